"""Tests of the loopback test servers and what they share."""
