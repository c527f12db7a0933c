"""Real servers on loopback for tests: DNS, HTTPS, SMTP, and their shared start/stop code."""
