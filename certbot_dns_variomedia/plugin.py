"""The certbot plugin ``dns-variomedia``: certbot's DNS authenticator, batched and watching DNS.

certbot's stock `DNSAuthenticator.perform` writes records one by one and then sleeps a fixed
time. This one writes all records of the order, then returns the moment every authoritative name
server shows every value (`core.run.ChallengeRun`), and cleanup removes exactly what it wrote.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import certbot
from acme import challenges as acme_challenges
from certbot import achallenges, errors, interfaces
from certbot.display import util as display_util
from certbot.plugins import dns_common

from .api.models import MAX_TTL, MIN_TTL
from .core.run import ChallengeRun
from .core.settings import Settings
from .core.state import StateFile
from .credentials import VariomediaCredentials, load_variomedia_credentials
from .errors import ConfigurationError, DNSLookupError, VariomediaError
from .nameservers import NameServer
from .paths import PLUGIN_STATE_FILE_NAME
from .resolver import parse_nameservers

logger = logging.getLogger(__name__)


def challenge_name(achall: achallenges.AnnotatedChallenge) -> str:
    """The name a challenge validates: ``identifier.value`` where certbot has it (certbot 5.3
    deprecated ``domain``, and its next releases drop it); ``domain`` on the releases before,
    which have no identifier (1.21.0 and 2.1.0 are supported)."""
    identifier = getattr(achall, "identifier", None)
    return str(identifier.value if identifier is not None else achall.domain)


class Authenticator(dns_common.DNSAuthenticator):
    """DNS Authenticator for Variomedia.

    This Authenticator uses the Variomedia customer API to fulfill a dns-01 challenge.
    """

    description = (
        "Obtain certificates using a DNS TXT record (if you are using Variomedia for DNS)."
    )
    ttl = Settings.ttl

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._credentials: VariomediaCredentials | None = None
        self._run: ChallengeRun | None = None

    @classmethod
    def add_parser_arguments(
        cls,
        add: Callable[..., None],
        default_propagation_seconds: int = int(Settings.propagation_timeout),
    ) -> None:
        # Not certbot's help text: here the value is an upper bound, not a fixed sleep.
        add(
            "propagation-seconds",
            type=int,
            default=default_propagation_seconds,
            help="The longest time to wait until every authoritative name server shows every "
            "TXT record; the CA is asked to validate as soon as they do.",
        )
        add("credentials", help="Variomedia credentials INI file.")
        add(
            "ttl",
            type=int,
            default=Settings.ttl,
            help=f"TTL of the TXT records, {MIN_TTL}-{MAX_TTL} seconds.",
        )
        add(
            "nameservers",
            default=None,
            help="Comma-separated host[:port] list of name servers to check for the records, "
            "instead of the zone's authoritative name servers found through its NS records "
            "(split-horizon DNS, tests).",
        )
        add(
            "update-lock",
            choices=("on", "off"),
            default="on",
            help="'on': switch the domain's DNS update lock on before writing, so that "
            "Variomedia's automatic changes cannot reset the zone; 'off': leave the domain's "
            "settings alone.",
        )

    def more_info(self) -> str:
        return (
            "This plugin configures a DNS TXT record to respond to a dns-01 challenge using "
            "the Variomedia customer API, and waits until every authoritative name server "
            "shows it."
        )

    def auth_hint(self, failed_achalls: list[achallenges.AnnotatedChallenge]) -> str:
        return (
            "The Certificate Authority failed to verify the DNS TXT records created by "
            f"--{self.name}, although every authoritative name server showed them before "
            "validation began. Check that the names' DNS is really served by Variomedia "
            "(NS records at the registry) and that no other server answers for them; "
            "`variomedia-dns doctor DOMAIN` checks this."
        )

    # -- certbot's DNSAuthenticator hooks -----------------------------------------------------

    def _setup_credentials(self) -> None:
        self._configure_file("credentials", "Variomedia credentials INI file")
        path = os.path.abspath(os.path.expanduser(self.conf("credentials")))
        # certbot saves the option's value for renewal, and cron and systemd renew from /: the
        # saved path must not depend on the directory certbot was first run in.
        setattr(self.config, self.dest("credentials"), path)
        try:
            self._credentials = load_variomedia_credentials(path)
        except ConfigurationError as e:
            raise errors.PluginError(str(e)) from None

    def _perform(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError("perform() writes all records of an order at once")

    def _cleanup(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError("cleanup() removes all records of an order at once")

    # -- the batch ------------------------------------------------------------------------------

    def perform(
        self, achalls: list[achallenges.AnnotatedChallenge]
    ) -> list[acme_challenges.ChallengeResponse]:
        self._setup_credentials()
        settings, nameservers = self._settings()
        assert self._credentials is not None
        self._attempt_cleanup = True
        try:
            run = self._run = ChallengeRun.open(
                self._credentials,
                StateFile(os.path.join(self.config.work_dir, PLUGIN_STATE_FILE_NAME)),
                settings,
                notify=display_util.notify,
            )
            run.sweep()
            placements = run.plan([challenge_name(achall) for achall in achalls])
            values = [achall.validation(achall.account_key) for achall in achalls]
            run.present(list(zip(placements, values, strict=True)))
            display_util.notify(
                "Waiting until every authoritative name server shows the records "
                f"(at most {settings.propagation_timeout:g} s)"
            )
            run.wait()
            if run.last_status is not None:
                display_util.notify(
                    f"All {len(run.written)} TXT record(s) are visible on every authoritative "
                    f"name server after {run.last_status.elapsed:.1f} s"
                )
        except DNSLookupError as e:
            # The lookups went to the servers the user named: the fix is in that option.
            hint = (
                f". Check that the servers given with --{self.name}-nameservers answer DNS "
                "queries from this machine."
                if nameservers
                else ""
            )
            raise errors.PluginError(f"{e}{hint}") from None
        except VariomediaError as e:
            raise errors.PluginError(str(e)) from None
        return [achall.response(achall.account_key) for achall in achalls]

    def cleanup(self, achalls: list[achallenges.AnnotatedChallenge]) -> None:
        """Remove what perform wrote. Never raises: a cleanup problem must not hide the error
        of a failed order, and what cannot be removed now is removed by the next run."""
        run, self._run = self._run, None
        if run is None:
            return
        with run:
            problems = run.remove()
        for problem in problems:
            logger.warning(
                "Could not remove a challenge record: %s. It is listed in %s and the next run "
                "removes it.",
                problem,
                run.state.path,
            )

    def _settings(self) -> tuple[Settings, tuple[NameServer, ...] | None]:
        ttl = self.conf("ttl")
        if not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
            raise errors.PluginError(
                f"--{self.name}-ttl must be between {MIN_TTL} and {MAX_TTL} seconds "
                f"(Variomedia's limits); it is {ttl}."
            )
        seconds = self.conf("propagation-seconds")
        if not isinstance(seconds, int) or seconds < 0:
            raise errors.PluginError(
                f"--{self.name}-propagation-seconds must be a number of seconds (0 or more); "
                f"it is {seconds}."
            )
        nameservers: tuple[NameServer, ...] | None = None
        if spec := self.conf("nameservers"):
            try:
                nameservers = tuple(parse_nameservers(spec))
            except ConfigurationError as e:
                raise errors.PluginError(str(e)) from None
        lock = self.conf("update-lock")
        if lock not in ("on", "off"):
            raise errors.PluginError(f"--{self.name}-update-lock must be on or off; it is {lock}.")
        settings = Settings(
            ttl=ttl,
            propagation_timeout=float(seconds),
            update_lock=lock == "on",
            nameservers=nameservers,
        )
        return settings, nameservers


if int(certbot.__version__.split(".")[0]) < 2:  # pragma: no cover - certbot 1.x
    # certbot 1.x finds plugins through zope.interface declarations (certbot 2 dropped them).
    import zope.interface

    zope.interface.implementer(interfaces.IAuthenticator)(Authenticator)
    zope.interface.provider(interfaces.IPluginFactory)(Authenticator)
