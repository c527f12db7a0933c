"""One stage per row: certbot, Pebble and the simulator on loopback, and the checks every row
shares, so that each row of the document is proven the same way.

Every stage seeds records that are not the plugin's (a TXT of "another ACME tool" at the very
names the plugin writes to, besides the domains' own records); every check proves that they
are untouched, that nothing the plugin created is left (in the account or in DNS), that it
created no record twice, how many requests it made, and that the token is in no file certbot
wrote and in none of its output.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from certbot_dns_variomedia.core.run import UNANSWERED
from certbot_dns_variomedia.paths import PLUGIN_STATE_FILE_NAME
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox
from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import (
    RecordSnapshot,
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

from .rows import BadInputRow, FaultRow, Run, measure

# Fast enough for a suite of dozens of certbot runs; slow enough that a plugin which did not
# wait for the slower server would hand Pebble (which asks that server) a missing record.
CONFIG = SimConfig(
    domains=(
        SimDomain("example.test"),
        SimDomain("other.test"),
        SimDomain("bücher.test"),
        SimDomain("nodns.test", presence=False),
    ),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.5),
    ),
    job_delay=0.2,
)

FOREIGN_VALUE = "value-of-another-acme-client-keep-me"
"""A TXT the plugin did not write, at the names it writes to: it must survive every row."""

WRITES = ("POST", "PATCH", "DELETE")


def output(result: subprocess.CompletedProcess[str]) -> str:
    """What the user saw: certbot writes notices to stdout and errors to stderr."""
    return result.stdout + result.stderr


def _record_key(r: RecordSnapshot) -> tuple[str, str, str, str, int, bool]:
    return (r.id, r.record_type, r.fqdn_ace, r.data, r.ttl, r.deleted)


@dataclass
class Stage:
    """A started sandbox plus what the checks need to remember about it. The checks work on
    either sandbox: certbot's with Pebble, or the dns-persist-01 one with acme2certifier,
    where ``variomedia-dns`` keeps its state file in the sandbox's root."""

    box: Sandbox | PersistSandbox
    secrets_files: set[Path] = field(default_factory=set)
    untouched: list[tuple[str, str, str, str, int, bool]] = field(default_factory=list)

    @property
    def sim(self) -> VariomediaSimulator:
        return self.box.sim

    @property
    def root(self) -> Path:
        return self.box.root

    @property
    def certbot_box(self) -> Sandbox:
        assert isinstance(self.box, Sandbox), "certbot runs on the sandbox with Pebble"
        return self.box

    @property
    def state_file(self) -> Path:
        if isinstance(self.box, Sandbox):
            return self.box.work_dir / PLUGIN_STATE_FILE_NAME
        return self.box.root / "state.json"

    def seed(self) -> None:
        """Records that are not the plugin's; taken as the picture that must not change."""
        for domain in ("example.test", "other.test"):
            self.sim.add_record(domain, "_acme-challenge", "TXT", FOREIGN_VALUE, ttl=300)
        self.secrets_files.add(self.box.credentials)
        self.untouched = self.snapshot_others()

    def snapshot_others(self) -> list[tuple[str, str, str, str, int, bool]]:
        return sorted(_record_key(r) for r in self.sim.records() if r.source != "api")

    # -- certbot ------------------------------------------------------------------------------

    def command(
        self,
        domains: Sequence[str],
        *,
        cert_name: str,
        propagation: int = 20,
        extra: Sequence[str] = (),
        credentials: Path | None = None,
        dirs: Path | None = None,
    ) -> list[str]:
        """``certbot certonly`` with the plugin; `dirs` gives it config/work/logs of its own."""
        command = self.certbot_box.certbot_command(
            "certonly",
            "--authenticator",
            "dns-variomedia",
            "--dns-variomedia-credentials",
            str(credentials or self.box.credentials),
            "--dns-variomedia-nameservers",
            self.box.nameservers_option,
            "--dns-variomedia-propagation-seconds",
            str(propagation),
            "--cert-name",
            cert_name,
            "--key-type",
            "ecdsa",
            *[arg for d in domains for arg in ("-d", d)],
            *extra,
        )
        if dirs is not None:
            for option, sub in (
                ("--config-dir", "config"),
                ("--work-dir", "work"),
                ("--logs-dir", "logs"),
            ):
                command[command.index(option) + 1] = str(dirs / sub)
        return command

    def run(
        self, command: Sequence[str], *, timeout: float = 120.0, prefix: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *command],
            env=self.box.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def certonly(
        self,
        domains: Sequence[str],
        *,
        cert_name: str,
        propagation: int = 20,
        extra: Sequence[str] = (),
        credentials: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = self.command(
            domains,
            cert_name=cert_name,
            propagation=propagation,
            extra=extra,
            credentials=credentials,
        )
        return self.run(command)

    def start(
        self, command: Sequence[str], name: str, env: Mapping[str, str] | None = None
    ) -> Background:
        """certbot in the background, its output in files (read after it ended or was killed)."""
        out = open(self.root / f"{name}.out", "w+", encoding="utf-8")  # noqa: SIM115
        err = open(self.root / f"{name}.err", "w+", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            command, env=dict(env or self.box.env()), stdout=out, stderr=err, text=True
        )
        return Background(proc, out, err)

    def write_credentials(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.root / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        self.secrets_files.add(path)
        return path

    # -- what is on the simulator ---------------------------------------------------------------

    def ours(self) -> list[RecordSnapshot]:
        """Records the plugin created that are still in the account."""
        return [r for r in self.sim.records() if r.source == "api" and not r.deleted]

    def created(self) -> list[RecordSnapshot]:
        return [r for r in self.sim.records() if r.source == "api"]

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.05)

    def visible_leftovers(self) -> list[tuple[int, str, str]]:
        """Values the plugin wrote that some name server still serves: (server, name, value)."""
        mine = {r.data for r in self.created()}
        names = {r.fqdn_ace for r in self.created()}
        return [
            (i, name, value)
            for i in range(len(self.sim.dns_servers))
            for name in sorted(names)
            for value in self.sim.visible(i, name)
            if value in mine
        ]

    # -- the checks every row shares ------------------------------------------------------------

    def check_nothing_left(self) -> None:
        """Promises 1 and 2 on the simulator: nothing of ours left, no twin, no stranger touched."""
        leaked = self.ours()
        twins = [
            k
            for k, n in collections.Counter((r.fqdn_ace, r.data) for r in self.created()).items()
            if n > 1
        ]
        assert self.snapshot_others() == self.untouched, "a record the plugin did not write changed"
        assert not twins, f"records created twice: {twins}"
        assert leaked == [], f"challenge records left in the account: {leaked}"
        # DNS follows the deletions one job and one publishing delay later.
        deadline = time.monotonic() + 5.0
        while (visible := self.visible_leftovers()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert visible == [], f"challenge values still served by name servers: {visible}"
        # Entries noted before a POST was answered are resolved by the run that finds them.
        state = self.state_file
        if state.exists():
            ids = [e["record_id"] for e in json.loads(state.read_text())["records"]]
            assert not [i for i in ids if i.startswith(UNANSWERED)], ids

    def check_no_secret(self, texts: Sequence[str] = ()) -> None:
        """Promise 5: the token is in no file of the sandbox but the credentials files, and in
        none of the given output."""
        token = self.sim.token
        for text in texts:
            assert token not in text
        for path in self.root.rglob("*"):
            if path.is_file() and path not in self.secrets_files:
                assert token.encode() not in path.read_bytes(), f"the token is in {path}"

    def check_run(self, run: Run, result: int | None, text: str, values: Mapping[str, str]) -> None:
        if run.result == "issued":
            assert result == 0, text
        else:  # failed, or killed (then the status is the signal's, e.g. -9)
            assert result not in (0, None), text
        for fragment in run.says:
            expected = fragment.format(**values)
            assert expected in text, f"missing {expected!r} in:\n{text}"
        end = text.rfind("Ask for help")  # certbot's closing line of a failed run
        if run.result == "failed" and run.says and end != -1:
            # Promise 4: the row's first message is certbot's last word, after any warning
            # of the cleanup, so a cleanup problem never hides why the order failed.
            main = text.rfind(run.says[0].format(**values), 0, end)
            assert main != -1, f"the run did not end with its message:\n{text}"
            assert "Could not remove a challenge record" not in text[main:end], text

    def verify_fault(
        self,
        row: FaultRow,
        outputs: Sequence[tuple[int | None, str]],
        values: Mapping[str, str] | None = None,
    ) -> None:
        """Everything a fault-matrix row claims, for the runs of its scenario."""
        figures = measure(row.test)
        figures.requests = self.sim.counters.total
        figures.rate_limited = self.sim.counters.too_many_requests
        assert len(outputs) == len(row.runs)
        all_values = {**self.values(), **(values or {})}
        for run, (status, text) in zip(row.runs, outputs, strict=True):
            self.check_run(run, status, text, all_values)
        figures.leaked = len(self.ours())
        self.check_nothing_left()
        low, high = row.requests
        assert low <= figures.requests <= high, self.sim.counters.by_route
        low, high = row.rate_limited
        assert low <= figures.rate_limited <= high, self.sim.counters.by_status
        self.check_no_secret([text for _, text in outputs])
        figures.done = True

    def verify_bad_input(
        self,
        row: BadInputRow,
        status: int,
        text: str,
        values: Mapping[str, str] | None = None,
    ) -> None:
        """Everything a bad-input row claims about one certbot run."""
        figures = measure(row.test)
        figures.requests = self.sim.counters.total
        works = row.result.startswith("works")
        self.check_run(
            Run("issued" if works else "failed", row.says),
            status,
            text,
            {**self.values(), **(values or {})},
        )
        if not works:
            writes = [route for route in self.sim.counters.by_route if route.startswith(WRITES)]
            assert writes == [], f"a refused input led to writes: {writes}"
            assert self.created() == []
        figures.leaked = len(self.ours())
        self.check_nothing_left()
        low, high = row.requests
        assert low <= figures.requests <= high, self.sim.counters.by_route
        assert self.sim.counters.too_many_requests == 0
        self.check_no_secret([text])
        figures.done = True

    def values(self) -> dict[str, str]:
        """Placeholders the rows' messages may use."""
        return {
            "credentials": str(self.box.credentials),
            "ns1": self.sim.nameservers[0],
            "ns2": self.sim.nameservers[1],
            "state": str(self.state_file),
        }


@dataclass
class Background:
    """A certbot process started by `Stage.start`."""

    proc: subprocess.Popen[str]
    out: IO[str]
    err: IO[str]

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stop()

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.proc.pid, signum)

    def stop(self) -> None:
        """Kill it if it still runs (a failed test must not leave certbot behind)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def text(self) -> str:
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read() + self.err.read()

    def close(self) -> None:
        self.stop()
        self.out.close()
        self.err.close()
