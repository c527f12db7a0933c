"""Tests of the ACME test harness: the certificate factory and the Pebble runner."""
