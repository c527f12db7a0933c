"""Tests of the Variomedia simulator, one file per part of it."""
