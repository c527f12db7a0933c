"""What the last auth call of a certbot order does: the plugin's path, for the whole order.

`hooks` imports this module only in the call that talks to the API and to DNS; the calls that
only note a challenge must not load the HTTP and DNS libraries (the last cleanup call:
`hook_cleanup`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..core.run import ChallengeRun
from .options import challenge_settings, load_credentials, nameservers, state_file
from .output import say


def open_run(args: argparse.Namespace, owner: str) -> ChallengeRun:
    """The core run of one hook call, owned by the certbot process that runs the hooks."""
    settings = challenge_settings(args, nameservers(args))
    return ChallengeRun.open(
        load_credentials(args), state_file(args), settings, notify=say, owner=owner
    )


def authenticate(
    run: ChallengeRun, challenges: Sequence[tuple[str, str]], *, batch: str | None
) -> None:
    """Write the records of every (domain, validation) of the order, then wait until every
    authoritative name server shows them all; `batch` marks them for the last cleanup call."""
    run.sweep()
    placements = run.plan([domain for domain, _ in challenges])
    values = [value for _, value in challenges]
    run.present(list(zip(placements, values, strict=True)), batch=batch)
    run.wait()
