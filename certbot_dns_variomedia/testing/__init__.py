"""Test doubles shipped with the package: simulated APIs, a DNS server, certificates, Pebble."""
