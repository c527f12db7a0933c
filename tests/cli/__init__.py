"""Tests of the ``variomedia-dns`` command, its hooks and `issue.obtain_certificate`."""
