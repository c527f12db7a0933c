"""Variomedia DNS Authenticator plugin for Certbot.

The user documentation of the plugin lives here, as in certbot's own DNS plugins; it is
completed together with the plugin itself (see README.md for the full guide).
"""

__version__ = "0.1.0.dev0"
