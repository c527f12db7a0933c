"""The core every front door shares: plan → present → wait → remove, for a batch of challenges.

* **plan**: one ``GET /domains``, then zones and CNAME delegation decided for every name before
  anything is written (`zones.place`).
* **present**: the update lock switched on where it is off (at most one PATCH per domain), then
  every record written, paced by the client; each id saved in the state file the moment the API
  returns it.
* **wait**: DNS first, API second. A record cannot be in DNS before its queue job is done, so
  every authoritative name server is polled often (free) and the job queue only rarely (one
  request tells about all pending jobs), just often enough to report a failed job early.
* **remove**: exactly the records this run wrote, by id; "already gone" is success. The delete
  jobs are not waited for (that would hold the certificate back by a job's delay): a removal
  still queued stays in the state file, and the next run checks it in DNS, at no API cost.

Nothing here knows certbot: `plugin`, `cli` and `issue` are thin front doors.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..api.client import VariomediaClient
from ..api.models import Domain
from ..clock import SYSTEM_CLOCK, Clock
from ..credentials import VariomediaCredentials
from ..errors import APIError, NotAuthoritativeError, PropagationError, VariomediaError
from ..names import CHALLENGE_LABEL, to_unicode
from ..nameservers import NameServer
from ..resolver import Resolver, normalize_name
from . import leftovers, removal
from .jobs import JobWatch
from .propagation import Plan, PropagationStatus, wait
from .settings import Settings
from .state import UNANSWERED, StateFile, StoredRecord, owner_alive, process_owner
from .zones import Placement, ZoneMap, place

logger = logging.getLogger(__name__)

Notify = Callable[[str], None]
OnRound = Callable[[PropagationStatus], None]

__all__ = ["UNANSWERED", "ChallengeRun", "Notify", "OnRound", "Settings"]


class ChallengeRun:
    """The records of one order (or one hook batch), from planning to removal."""

    def __init__(
        self,
        client: VariomediaClient,
        resolver: Resolver,
        state: StateFile,
        *,
        settings: Settings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        notify: Notify = logger.info,
        owner: str | None = None,
    ) -> None:
        self.client = client
        self.resolver = resolver
        self.state = state
        self.settings = settings or Settings()
        self.clock = clock
        self.notify = notify
        self.account = client.account_key
        self.owner = owner or process_owner()
        self.written: list[StoredRecord] = []
        self.last_status: PropagationStatus | None = None
        self._zone_map: ZoneMap | None = None
        self._locked: set[str] = set()  # zones whose update lock this run knows to be on
        self._servers: dict[str, tuple[NameServer, ...]] = {}

    @classmethod
    def open(
        cls,
        credentials: VariomediaCredentials,
        state: StateFile,
        settings: Settings | None = None,
        *,
        resolver: Resolver | None = None,
        clock: Clock = SYSTEM_CLOCK,
        notify: Notify = logger.info,
        owner: str | None = None,
    ) -> ChallengeRun:
        """The run every front door uses: a client paced together with every other process of
        this user, and a resolver that asks the configured name servers what a recursive
        resolver would otherwise answer. `close` (or a ``with`` block) ends the client's session."""
        settings = settings or Settings()
        return cls(
            VariomediaClient.from_credentials(credentials, clock=clock),
            resolver or Resolver(bootstrap=settings.nameservers),
            state,
            settings=settings,
            clock=clock,
            notify=notify,
            owner=owner,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ChallengeRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- leftovers -------------------------------------------------------------------------

    def sweep(self) -> None:
        """Remove records that an earlier, killed run of this account left behind, and make
        sure earlier removals that were still queued went through. Only records the API
        still shows as the TXT record that was written are deleted (`leftovers.check`)."""
        leftovers = [
            r
            for r in self.state.records()
            if r.account == self.account
            and r.owner != self.owner
            and not owner_alive(r.owner, created=r.created)
        ]
        if not leftovers:
            return
        queued = [r for r in leftovers if r.deleting]
        gone = {r.record_id for r in queued if self._gone_from_dns(r)}
        if gone:
            self.state.discard(gone)
            logger.info("Earlier removals confirmed in DNS: records %s", ", ".join(sorted(gone)))
        confirmed = self._confirmed([r for r in leftovers if r.record_id not in gone])
        abandoned = [r.fqdn for r in confirmed if not r.deleting]
        if abandoned:
            self.notify(
                f"Cleaning up {len(abandoned)} challenge record(s) an earlier run left behind "
                f"(interrupted, or its cleanup failed): {', '.join(abandoned)}"
            )
        problems = removal.remove(self.client, self.state, confirmed)
        for problem in problems:
            logger.warning("Could not remove a leftover record yet: %s", problem)

    def _confirmed(self, entries: Sequence[StoredRecord]) -> list[StoredRecord]:
        """The entries whose records are still what was written; the others are dropped from
        the state file (with a warning), or kept for the next run where the API failed."""
        verdict = leftovers.check(self.client, entries)
        for entry, why in verdict.foreign:
            logger.warning(
                "Not deleting record %s, listed in %s as the TXT record at %s that an earlier "
                "run wrote: %s. Its entry is dropped; the record is left as it is.",
                entry.record_id,
                self.state.path,
                entry.fqdn,
                why,
            )
        for entry, why in verdict.unchecked:
            logger.warning(
                "Could not check record %s that an earlier run left behind (%s); it stays in "
                "%s for the next run.",
                entry.record_id,
                why.rstrip("."),
                self.state.path,
            )
        dropped = {e.record_id for e, _ in verdict.foreign} | {e.record_id for e in verdict.gone}
        if dropped:
            self.state.discard(dropped)
        return verdict.ours

    def _gone_from_dns(self, record: StoredRecord) -> bool:
        """Whether every authoritative server answers, and none shows the value any more."""
        try:
            servers = self._servers_for(record.zone)
        except VariomediaError:
            return False
        answers = [self.resolver.query_txt(server, record.fqdn) for server in servers]
        return all(not a.failed and record.value not in a.values for a in answers)

    # -- plan ------------------------------------------------------------------------------

    def plan(self, domains: Sequence[str], *, label: str = CHALLENGE_LABEL) -> list[Placement]:
        """Zone and record name for every certificate name; raises before anything is written.
        `label`: where the CA looks (``_acme-challenge``, or dns-persist-01's label).

        The account's domains are listed once per run."""
        return place(domains, self._zones(), self.resolver.cname_target, label=label)

    def _zones(self) -> ZoneMap:
        if self._zone_map is None:
            self._zone_map = ZoneMap(self.client.list_domains())
        return self._zone_map

    # -- present ---------------------------------------------------------------------------

    def present(self, items: Sequence[tuple[Placement, str]], *, batch: str | None = None) -> None:
        """Write one TXT record per (placement, value), remembering each id at once."""
        if not items:
            return
        zones = sorted({p.zone for p, _ in items})
        if self.settings.update_lock:
            for zone in zones:
                self._ensure_update_lock(zone)
        self.notify(f"Creating {len(items)} TXT record(s) in {', '.join(map(to_unicode, zones))}")
        for placement, value in items:
            # Noted before the POST: a process killed while the API works on it leaves this
            # entry, and whoever finds it looks the record up by its unique value.
            intent = StoredRecord(
                record_id=f"{UNANSWERED}{uuid.uuid4().hex}",
                account=self.account,
                zone=placement.zone,
                fqdn=placement.fqdn,
                value=value,
                created=self.clock.time(),
                batch=batch,
                owner=self.owner,
            )
            self.state.add(intent)
            try:
                write = self.client.create_record(
                    placement.zone, placement.record_name, "TXT", value, ttl=self.settings.ttl
                )
            except APIError as e:
                if e.unclear:  # perhaps created: this run's cleanup looks it up by its value
                    self.written.append(intent)
                else:
                    self.state.discard({intent.record_id})
                raise
            record = replace(
                intent,
                record_id=write.record_id,
                job_id=write.job.id if write.job and not write.job.done else None,
            )
            self.state.replace(record, intent.record_id)
            self.written.append(record)
            logger.info(
                "Created TXT %s (record %s%s)",
                placement.fqdn,
                write.record_id,
                f", queue job {record.job_id}" if record.job_id else "",
            )

    def _domain(self, zone: str) -> Domain:
        zones = self._zones()
        found = zones.zone_of(zone)
        if found is None or found.name != zone:
            raise zones.not_in_account(zone)
        return found

    def _ensure_update_lock(self, zone: str) -> None:
        """The lock keeps a tariff change from resetting the zone; switch it on only if off."""
        if zone in self._locked:
            return
        domain = self._domain(zone)
        if domain.update_lock is None:  # the list left it out: ask for the domain itself
            domain = self.client.get_domain(zone)
        if domain.update_lock:
            self._locked.add(zone)
            return
        self.client.set_update_lock(zone, True)
        self._locked.add(zone)
        self.notify(
            f"Switched on the DNS update lock of {to_unicode(zone)} so that Variomedia's "
            "automatic changes (e.g. a tariff change) cannot reset the zone. To turn it off: "
            "variomedia-dns lock off " + zone
        )

    # -- wait ------------------------------------------------------------------------------

    def wait(
        self, records: Sequence[StoredRecord] | None = None, *, on_round: OnRound | None = None
    ) -> None:
        """Return as soon as every authoritative server shows every value; fail early on a
        failed job; on timeout raise `PropagationError` naming the laggards. `on_round` sees
        the status after every round (progress displays)."""
        records = list(self.written if records is None else records)
        if not records:
            return
        plan = Plan.build(
            [(r.fqdn, r.value) for r in records],
            {r.fqdn: self._servers_for(r.zone) for r in records},
        )
        jobs = JobWatch(
            self.client, records, clock=self.clock, first_poll=self.settings.first_job_poll
        )

        def each_round(status: PropagationStatus) -> None:
            self.last_status = status  # what a timeout message builds on
            jobs.on_round(status)
            if on_round is not None:
                on_round(status)

        try:
            self.last_status = wait(
                plan,
                self.resolver,
                timeout=self.settings.propagation_timeout,
                interval=self.settings.dns_interval,
                clock=self.clock,
                on_round=each_round,
                timeout_option=self.settings.timeout_option,
            )
        except NotAuthoritativeError as e:
            zones = sorted({r.zone for r in records if normalize_name(r.fqdn) in e.names})
            raise NotAuthoritativeError(
                self._not_authoritative(e.server, zones), server=e.server, names=e.names
            ) from None
        except PropagationError as e:
            why = jobs.explain_timeout(
                self.last_status,
                timeout=self.settings.propagation_timeout,
                option=self.settings.timeout_option,
            )
            raise PropagationError(f"{e}{why}") from None

    def _not_authoritative(self, server: NameServer, zones: Sequence[str]) -> str:
        """Which server, for which zone, and the fix: the option, or the zone's delegation."""
        zone = ", ".join(map(to_unicode, zones))
        if self.settings.nameservers is not None:
            option = self.settings.nameservers_option
            return (
                f"The name server {server}, given with {option}, is not authoritative for "
                f"{zone}: it answers without the AA bit, as a recursive resolver or a forwarder "
                f"does, so it cannot tell what {zone}'s own name servers show, however long one "
                f"waits. Give {zone}'s authoritative name servers in {option} (`dig +short NS "
                f"{zone}` lists them), or leave {option} out: they are then found from the NS "
                "records."
            )
        return (
            f"The name server {server}, one of those in the NS records of {zone}, is not "
            f"authoritative for it: it answers without the AA bit (a lame delegation), so a CA "
            f"that asks it cannot validate. Remove it from {zone}'s NS records (at the registry "
            f"and in the zone) or have it serve {zone}; `variomedia-dns doctor {zone}` checks "
            "the delegation."
        )

    def _servers_for(self, zone: str) -> tuple[NameServer, ...]:
        if self.settings.nameservers is not None:
            return self.settings.nameservers
        if zone not in self._servers:
            self._servers[zone] = tuple(self.resolver.authoritative_servers(zone))
        return self._servers[zone]

    # -- keep or remove --------------------------------------------------------------------

    def keep(self) -> list[StoredRecord]:
        """Let the records written so far stand (dns-persist-01 records are meant to): they
        leave the state file, so neither `remove` nor a later run's sweep deletes them."""
        kept, self.written = self.written, []
        self.state.discard({r.record_id for r in kept})
        return kept

    def remove(self, records: Sequence[StoredRecord] | None = None) -> list[str]:
        """Delete the given records (default: all this run wrote); never raises.

        Returns the problems, one line each, for the front door to show; the records concerned
        stay in the state file and the next run removes them.
        """
        records = list(self.written if records is None else records)
        if not records:
            return []
        problems = removal.remove(self.client, self.state, records)
        removed = {r.record_id for r in records}
        self.written = [r for r in self.written if r.record_id not in removed]
        return problems
