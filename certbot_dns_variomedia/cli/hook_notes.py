"""What the manual hooks' calls before an order's last one do: note the challenge, or nothing.

certbot starts a hook process per challenge. Only the order's last auth call and last cleanup
call talk to the API (`hooks`); the calls before them note their challenge in the state file
(auth) or have nothing to do (cleanup). `cli.main` serves them through `before_the_last`
before the command's parser and modules are loaded, because every start of a hook process
costs the order time: this module imports nothing that is not needed for that.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.state import HookOrder, StateFile, owner_alive
from ..paths import state_file_path
from .hook_owner import hook_owner
from .output import say
from .usage import UsageError

ENV_DOMAIN = "CERTBOT_DOMAIN"
ENV_VALIDATION = "CERTBOT_VALIDATION"
ENV_REMAINING = "CERTBOT_REMAINING_CHALLENGES"


@dataclass(frozen=True)
class HookCall:
    """What certbot tells a hook call through its environment."""

    domain: str
    validation: str
    remaining: int  # challenges after this one; 0: the last call of the order
    counted: bool = True  # whether the caller said how many remain (certbot does)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookCall:
        missing = [v for v in (ENV_DOMAIN, ENV_VALIDATION) if not environ.get(v, "").strip()]
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} not set: this command is run by certbot, as "
                "--manual-auth-hook 'variomedia-dns certbot-auth' and --manual-cleanup-hook "
                "'variomedia-dns certbot-cleanup'."
            )
        # Without the count (an older or another ACME client) every call is an order of its own.
        text = environ.get(ENV_REMAINING, "").strip()
        if text and not text.isdigit():
            raise UsageError(f"{ENV_REMAINING} must be a number of challenges; it is {text!r}.")
        domain, validation = environ[ENV_DOMAIN].strip(), environ[ENV_VALIDATION].strip()
        return cls(domain, validation, int(text or "0"), counted=bool(text))


def batch_of(owner: str) -> str:
    """The batch marker of the records one certbot process writes through the hooks."""
    return f"certbot-hooks:{owner}"


def note(state: StateFile, owner: str, call: HookCall) -> list[tuple[str, str]]:
    """Add this call's challenge to its order; the order's challenges so far, this one last.

    The order stays in the state file while challenges remain; the last call takes it out.
    Orders of certbot processes that have ended are dropped on the way.
    """
    with state.edit_orders() as orders:
        earlier = [o for o in orders if o.owner == owner]
        orders[:] = [o for o in orders if o.owner != owner and owner_alive(o.owner)]
        # certbot counts down by one per call; anything else is another order of this process.
        continues = call.counted and earlier and earlier[0].remaining == call.remaining + 1
        challenges = [*(earlier[0].challenges if continues else []), (call.domain, call.validation)]
        if call.remaining > 0:
            orders.append(HookOrder(owner, call.remaining, challenges))
    return challenges


def end_order(state: StateFile, owner: str) -> None:
    """Cleanup has begun: nothing noted by this certbot process may serve another order."""
    with state.edit_orders() as orders:
        orders[:] = [o for o in orders if o.owner != owner]


def noted(call: HookCall) -> str:
    return (
        f"Challenge for {call.domain} noted; {call.remaining} more to come. The last call "
        "writes every record of the order and waits until all are visible."
    )


def before_the_last(
    command: str | None, argv: Sequence[str], environ: Mapping[str, str]
) -> int | None:
    """Serve a hook call that comes before its order's last one (its exit status), or say that
    this call is for the full command (``None``: the last call, another command, ``--help``,
    or anything certbot's variables do not make plain, which the full command reports)."""
    if command not in ("certbot-auth", "certbot-cleanup") or {"-h", "--help"} & set(argv):
        return None
    try:
        call = HookCall.from_environ(environ)
    except UsageError:
        return None
    if not call.counted or call.remaining == 0:
        return None
    if command == "certbot-cleanup":
        return 0  # the order's last cleanup call removes every record of it
    # The one option this call needs, read as the command's parser reads it.
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--state-file")
    known, _ = options.parse_known_args(list(argv))
    note(StateFile(state_file_path(known.state_file)), hook_owner(), call)
    say(noted(call))
    return 0
