"""The Variomedia API simulator: real HTTP and authoritative DNS on loopback."""
