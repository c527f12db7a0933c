"""The local demos: a certificate from the sandbox, and a cp-audit of a simulated mail gateway."""
