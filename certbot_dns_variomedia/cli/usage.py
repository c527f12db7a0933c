"""The one error every subcommand raises for a command line it cannot carry out (exit status 2).

In a module of its own, importing nothing: the manual hooks' calls before an order's last one
check certbot's variables with it before anything else is loaded (`hook_notes`).
"""

from __future__ import annotations


class UsageError(Exception):
    """The command line cannot be carried out as given (exit status 2); nothing was sent."""
