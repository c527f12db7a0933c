"""What the user can tune about a challenge run, in a module of its own.

The command's option parser needs the defaults on every start, also for the manual hooks' calls
that only note a challenge: this module imports nothing heavy (no HTTP, no DNS library).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..nameservers import NameServer


@dataclass(frozen=True)
class Settings:
    """What the user can tune; defaults match the plugin's option defaults."""

    ttl: int = 300
    propagation_timeout: float = 300.0  # the longest wait for DNS; the wait ends when all is seen
    dns_interval: float = 0.5  # between DNS rounds (queries are free)
    first_job_poll: float = 4.0  # seconds before the job queue is first asked; then doubling
    update_lock: bool = True
    nameservers: tuple[NameServer, ...] | None = None  # replaces discovery for every zone
    # The option that gave `nameservers`, in the front door's own words (for messages).
    nameservers_option: str = "--dns-variomedia-nameservers"
    # The setting a timeout message tells the user to raise, in the front door's own words.
    timeout_option: str = "--dns-variomedia-propagation-seconds"
