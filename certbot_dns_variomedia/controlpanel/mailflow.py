"""The mail-flow figures of a period, from the Control Panel's e-mails and statistics.

Counted once, here, from the typed e-mails: in and out, the methods used, the share that
travelled without encryption and the partner domains that most often had no TLS.
"""

from __future__ import annotations

import collections
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .models import Direction, Email, Encryption, StatisticsEntry


@dataclass(frozen=True)
class MailFlow:
    """The figures of one period.

    ``by_encryption`` counts each method (strongest first, then ``none`` and ``unknown``).
    ``unencrypted_share`` is ``unencrypted / total`` (0 when there was no mail); e-mails whose
    method the API did not say are ``unknown`` and counted in neither.
    """

    date_from: datetime.datetime
    date_to: datetime.datetime
    total: int
    inbound: int
    outbound: int
    by_encryption: tuple[tuple[Encryption, int], ...]
    unencrypted: int
    unknown_encryption: int
    partners_without_tls: tuple[tuple[str, int], ...]
    classification: tuple[StatisticsEntry, ...]

    @property
    def unencrypted_share(self) -> float:
        return self.unencrypted / self.total if self.total else 0.0


def summarize(
    emails: Iterable[Email],
    statistics: Sequence[StatisticsEntry],
    date_from: datetime.datetime,
    date_to: datetime.datetime,
    *,
    top: int = 10,
) -> MailFlow:
    """Count ``emails`` (consumed once) into a :class:`MailFlow`."""
    directions: collections.Counter[Direction | None] = collections.Counter()
    methods: collections.Counter[Encryption] = collections.Counter()
    no_tls: collections.Counter[str] = collections.Counter()
    total = 0
    for mail in emails:
        total += 1
        directions[mail.direction] += 1
        methods[mail.encryption] += 1
        if mail.encryption is Encryption.NONE:
            no_tls[mail.partner_domain or "(unknown)"] += 1
    # Most first; equal counts by name, so the order is stable from run to run.
    partners = sorted(no_tls.items(), key=lambda item: (-item[1], item[0]))[:top]
    return MailFlow(
        date_from=date_from,
        date_to=date_to,
        total=total,
        inbound=directions[Direction.INBOUND],
        outbound=directions[Direction.OUTBOUND],
        by_encryption=tuple((method, methods[method]) for method in Encryption),
        unencrypted=methods[Encryption.NONE],
        unknown_encryption=methods[Encryption.UNKNOWN],
        partners_without_tls=tuple(partners),
        classification=tuple(statistics),
    )
