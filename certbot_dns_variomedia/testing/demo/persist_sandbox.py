"""A loopback stage for dns-persist-01: the Variomedia simulator and acme2certifier.

acme2certifier (a CA no one here wrote) asks only port 53, so the simulator's name servers
listen on port 53 of loopback addresses of their own (`variomedia.port53`), and the CA asks
the slowest of them: a record it accepts is one every server shows. acme2certifier offers
dns-01 too (unless told otherwise), so one stage serves ``--challenge auto`` and the
comparison of both challenges. Binding port 53 needs root (or CAP_NET_BIND_SERVICE): without
it, `start` raises `Port53Unavailable`, which says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ...paths import CACHE_APP, ENV_CACHE_DIR
from ..acme.acme2certifier import DEFAULT_ISSUER, Acme2Certifier
from ..servers.service import Service
from ..variomedia.config import SimConfig
from ..variomedia.port53 import Port53Unavailable, start_on_port_53
from ..variomedia.simulator import VariomediaSimulator
from .sandbox import DEMO_CONFIG

__all__ = ["PersistSandbox", "Port53Unavailable"]


class PersistSandbox(Service):
    """A simulator on port 53 and an acme2certifier that validates against its slowest server.

    `issuer_names`, `dns_01` and `persist_wildcard` are the CA's (see `Acme2Certifier`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: SimConfig = DEMO_CONFIG,
        *,
        issuer_names: Sequence[str] = (DEFAULT_ISSUER,),
        dns_01: bool = True,
        persist_wildcard: bool = True,
    ) -> None:
        self.root = Path(root)
        self.config = config
        self.issuer_names = tuple(issuer_names)
        self.dns_01 = dns_01
        self.persist_wildcard = persist_wildcard
        self._sim: VariomediaSimulator | None = None
        self._ca: Acme2Certifier | None = None
        self.credentials = self.root / "variomedia.ini"
        self.cache_dir = self.root / "cache"

    def start(self) -> PersistSandbox:
        if self._sim is not None:
            raise RuntimeError("PersistSandbox.start() may be called only once")
        self.root.mkdir(parents=True, exist_ok=True)
        self._sim = start_on_port_53(self.config)
        try:
            delays = [ns.delay for ns in self.config.nameservers]
            slowest = self._sim.dns_servers[delays.index(max(delays))].address
            self._ca = Acme2Certifier(
                self.root / "acme2certifier",
                dns_servers=[slowest],
                issuer_names=self.issuer_names,
                dns_01=self.dns_01,
                persist_wildcard=self.persist_wildcard,
            ).start()
            self._sim.write_credentials(self.credentials)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._ca is not None:
            self._ca.stop()
        if self._sim is not None:
            self._sim.stop()

    @property
    def sim(self) -> VariomediaSimulator:
        if self._sim is None:
            raise RuntimeError("the persist sandbox is not started")
        return self._sim

    @property
    def ca(self) -> Acme2Certifier:
        if self._ca is None:
            raise RuntimeError("the persist sandbox is not started")
        return self._ca

    @property
    def nameservers_option(self) -> str:
        """``--nameservers`` for the commands: every simulated server, on port 53."""
        return ",".join(self.sim.nameservers)

    def env(self) -> dict[str, str]:
        """A command's environment: the pacing ledger inside the sandbox, no token."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VARIOMEDIA_API_")}
        env["XDG_CACHE_HOME"] = str(self.cache_dir)
        env[ENV_CACHE_DIR] = str(self.cache_dir / CACHE_APP)  # root's ignores XDG_CACHE_HOME
        return env
