"""The queue jobs of a wait: asked about only when DNS cannot tell.

A record cannot be in DNS before its queue job is done, so while any server shows it the job
needs no request at all. Only records that no server shows yet are looked up, rarely (the first
look after a few seconds, then at doubling intervals), to report a failed job early instead of
after the whole propagation timeout.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..api.client import VariomediaClient
from ..clock import Clock
from ..errors import JobError, VariomediaError
from .propagation import PropagationStatus
from .settings import Settings
from .state import StoredRecord

# A queue job is normally done within seconds: only a wait this long that still finds jobs
# queued says the API is slow, rather than that the wait was too short.
QUEUE_PATIENCE = 60.0


class JobWatch:
    """Asks the job queue only when DNS cannot tell: records not visible on any server yet."""

    def __init__(
        self,
        client: VariomediaClient,
        records: Sequence[StoredRecord],
        *,
        clock: Clock,
        first_poll: float,
    ) -> None:
        self.client = client
        self.records = list(records)
        self.clock = clock
        self.start = clock.monotonic()
        self.next_poll = first_poll
        self.step = first_poll
        self.done_jobs: set[str] = set()
        self.still_pending: list[StoredRecord] = []

    def _unseen(self, status: PropagationStatus | None) -> list[StoredRecord]:
        seen = set()
        if status is not None:
            seen = {(r.name, v) for r in status.results for v in r.seen}
        return [
            r
            for r in self.records
            if r.job_id and r.job_id not in self.done_jobs and (r.fqdn, r.value) not in seen
        ]

    def on_round(self, status: PropagationStatus) -> None:
        elapsed = self.clock.monotonic() - self.start
        if status.done or elapsed < self.next_poll:
            return
        self.step *= 2
        self.next_poll = elapsed + self.step
        self.poll(self._unseen(status))

    def poll(self, unseen: list[StoredRecord]) -> None:
        """One look at the queue (1 request, plus 1 per job that left it unseen in DNS)."""
        if not unseen:
            return
        pending = {job.id for job in self.client.list_pending_jobs()}
        self.still_pending = []
        for record in unseen:
            assert record.job_id is not None
            if record.job_id in pending:
                self.still_pending.append(record)
                continue
            job = self.client.get_job(record.job_id)
            if job.done:
                self.done_jobs.add(job.id)  # DNS is only lagging behind
                continue
            if job.pending:
                self.still_pending.append(record)
                continue
            raise JobError(
                f"Variomedia's queue job {job.id} for the TXT record at {record.fqdn} ended "
                f"with status {job.status!r}: the record was not published. Try again; if it "
                "keeps failing, check the zone in the customer menu or ask Variomedia support.",
                job_id=job.id,
                status=job.status,
            )

    def explain_timeout(
        self, last_status: PropagationStatus | None, *, timeout: float, option: str
    ) -> str:
        """Extra words for a propagation timeout: were the jobs still queued, and whose fault
        is that? A wait shorter than `QUEUE_PATIENCE` proves nothing against the API."""
        try:
            self.poll(self._unseen(last_status))
        except JobError as e:
            return f" {e}"
        except VariomediaError:
            return ""
        if not self.still_pending:
            return ""
        jobs = ", ".join(sorted({r.job_id or "" for r in self.still_pending}))
        why = (
            "the API is slow right now; try again later."
            if timeout >= QUEUE_PATIENCE
            else f"the wait ended after {timeout:g} s, too soon for the queue; raise {option} "
            f"(now {timeout:g}; the default, {Settings.propagation_timeout:g}, leaves it time)."
        )
        return (
            f" Variomedia's queue has not carried out job(s) {jobs} yet, so the record(s) were "
            f"not published: {why}"
        )
