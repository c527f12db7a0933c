"""Removing challenge records by id: how every front door deletes what it wrote.

Apart from `core.run` because the manual hooks' last cleanup call only deletes: it loads the API
client and the state file, not the DNS library and the propagation wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from ..api.client import VariomediaClient
from ..errors import VariomediaError
from ..names import relative_name
from .state import UNANSWERED, StateFile, StoredRecord

logger = logging.getLogger(__name__)


def remove(
    client: VariomediaClient, state: StateFile, records: Iterable[StoredRecord]
) -> list[str]:
    """DELETE each record by id; a removal still queued is remembered, not waited for.

    Never raises for a record that cannot be removed: it stays in the state file for the next
    run, and the problem is returned, one clause each, for the front door to show.
    """
    problems: list[str] = []
    for entry in records:
        try:
            record = _answered(client, state, entry)
            if record is None:
                continue
            write = client.delete_record(record.record_id)
        except VariomediaError as e:
            # One clause per problem: front doors add their own sentence after it.
            problems.append(f"record {entry.record_id} at {entry.fqdn}: {str(e).rstrip('.')}")
            continue
        if write.already_gone or (write.job is not None and write.job.done):
            state.discard({record.record_id})
        else:
            job = write.job.id if write.job else None
            state.replace(replace(record, deleting=True, job_id=job))
        logger.info("Removed TXT %s (record %s)", record.fqdn, record.record_id)
    return problems


def _answered(
    client: VariomediaClient, state: StateFile, entry: StoredRecord
) -> StoredRecord | None:
    """The entry with its record's id; for an entry noted before a POST that was never
    answered, the record carrying its value (the value is a fresh digest, so only that POST
    can have made it), or ``None`` (and the entry dropped) if there is none."""
    if not entry.record_id.startswith(UNANSWERED):
        return entry
    found = client.find_record(
        entry.zone, relative_name(entry.fqdn, entry.zone), "TXT", entry.value
    )
    if found is None:
        state.discard({entry.record_id})
        return None
    record = replace(entry, record_id=found.record_id)
    state.replace(record, entry.record_id)
    return record
