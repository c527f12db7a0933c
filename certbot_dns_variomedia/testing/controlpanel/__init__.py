"""The Control Panel API simulator: real HTTP on loopback."""
