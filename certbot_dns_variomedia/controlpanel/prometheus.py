"""The audit's figures in the Prometheus text format, for node_exporter's textfile collector.

node_exporter may read the file at any moment, so it is never written in place: the text goes
to a new file beside it, is flushed to disk, and then takes the file's name in one rename.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigurationError
from .findings import Verdict
from .metrics import HELP, Figure, figures, run_figures
from .results import AuditResult


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(domain: str, measured: Sequence[Figure]) -> str:
    """Every figure as a gauge labelled with the domain, grouped by metric with its help."""
    lines: list[str] = []
    for metric in dict.fromkeys(f.metric for f in measured):
        lines += [f"# HELP {metric} {HELP[metric]}", f"# TYPE {metric} gauge"]
        for f in measured:
            if f.metric != metric:
                continue
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in (("domain", domain), *f.labels))
            lines.append(f"{metric}{{{labels}}} {f.prometheus_value!r}")
    return "\n".join(lines) + "\n"


def audit_metrics(result: AuditResult, verdict: Verdict) -> str:
    """The text for one audit that ran."""
    return render_prometheus(result.domain, [*run_figures(result, verdict), *figures(result)])


def failed_metrics(domain: str, now: float) -> str:
    """The text for an audit that could not run (exit 3): its status and time, nothing else."""
    return render_prometheus(
        domain,
        [
            Figure("", "cp_audit_status", (), 3.0),
            Figure("", "cp_audit_last_run_timestamp_seconds", (), now),
        ],
    )


def check_writable(path: str) -> None:
    """Refuse, before the audit runs, a file whose directory cannot be written."""
    directory = Path(path).absolute().parent
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"Cannot write --prometheus {path}: {directory} is not a directory this user can "
            "write to (node_exporter's textfile directory, e.g. "
            "/var/lib/prometheus/node-exporter)."
        )


def write_atomically(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old file or the new one, whole."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(dir=target.absolute().parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # node_exporter runs as its own user
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
