"""Tests that keep the README, the examples and the packages true: they run what the docs show."""
