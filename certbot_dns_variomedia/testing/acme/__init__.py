"""An ACME CA on loopback (Debian's Pebble) and the certificates tests need."""
