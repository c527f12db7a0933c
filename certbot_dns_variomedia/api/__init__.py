"""The Variomedia customer API client: the only code in the project that speaks HTTP to
Variomedia."""
