"""How the Variomedia client talks HTTP: pacing, bounded retries, and errors mapped for people.

* It never draws a 429 from its own traffic (`pacing.RequestPacer`), honours ``Retry-After`` when
  one comes anyway, and stops after a bounded number of failures in a row instead of hammering
  the API into its error lockout.
* It retries only what is safe to repeat (GET, DELETE, PATCH); whether a POST may be repeated is
  the endpoint's decision (`client.VariomediaClient.create_record`).
* Every failure becomes one exception of `errors` whose message says what to fix.
* The token appears nowhere but in the ``Authorization`` header.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from .. import __version__
from ..clock import SYSTEM_CLOCK, Clock
from ..credentials import DEFAULT_API_URL, account_key
from ..errors import (
    APIError,
    ConfigurationError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from ..http_util import ca_bundle, is_loopback_host, proxies_for, retry_after, scrub
from ..pacing import MAX_PAUSE, RequestPacer
from . import exchange, jsonapi
from .exchange import Bounds
from .failures import (
    FINAL,
    AnswerTooLarge,
    AnswerTooSlow,
    UntrustedCertificate,
    certificate_problem,
    error_for,
    reason,
    redirect_error,
    refused,
)

logger = logging.getLogger(__name__)

ACCEPT = "application/vnd.variomedia.v1+json"
CONTENT_TYPE = "application/vnd.api+json"
USER_AGENT = (
    f"certbot-dns-variomedia/{__version__} "
    "(+https://github.com/certbot-dns-variomedia/certbot-dns-variomedia) "
    f"python-requests/{requests.__version__}"
)
DEFAULT_TIMEOUT = (10.0, 30.0)  # (connect, read) seconds
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_IDEMPOTENT = frozenset({"GET", "DELETE", "PATCH"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long the client keeps trying before it gives up with a clear error."""

    attempts: int = 5  # per request
    backoff: float = 1.0  # first pause after a 5xx or network error; doubles each time
    max_backoff: float = 30.0
    max_retry_after: float = MAX_PAUSE  # a longer Retry-After is reported, not waited out
    max_consecutive_failures: int = 8  # across requests: the API locks out noisy clients


def check_api_url(url: str) -> str:
    """The base URL without trailing slash; plain http only where nothing can listen in."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"The API URL {url!r} is not an http(s) URL; the Variomedia API is {DEFAULT_API_URL}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            f"The API URL {url!r} must not contain credentials, a query or a fragment."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"The API URL {url!r} uses plain http:// to a host that is not this machine; "
            "the token would travel unencrypted. Use https://"
        )
    return url.rstrip("/")


class Transport:
    """A paced, retrying HTTP session with the API; `client.VariomediaClient` adds the endpoints."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        token_source: str = "dns_variomedia_token in the credentials file",  # noqa: S107
        clock: Clock = SYSTEM_CLOCK,
        pacer: RequestPacer | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        bounds: Bounds | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not token or not _TOKEN_RE.match(token):
            raise ConfigurationError(
                f"The API token ({token_source}) is empty or malformed: it should be one word "
                "of printable characters, exactly as Variomedia issued it."
            )
        self.base_url = check_api_url(api_url)
        self.token_source = token_source
        self.clock = clock
        self.pacer = pacer if pacer is not None else RequestPacer(clock=clock)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.bounds = bounds or Bounds()
        self.requests_sent = 0  # every attempt that reached the wire, for tests and benchmarks
        self._failures_in_a_row = 0
        self.account_key = account_key(self.base_url, token)  # names its entries in state files
        self._secrets = (token,)  # scrubbed from every message quoting the server
        self._session = session or requests.Session()
        # Nothing from the environment but what proxies_for and ca_bundle read on purpose: a
        # 'default' entry in ~/.netrc would replace the token, and HTTP_PROXY would receive it
        # in clear even for a loopback API.
        self._session.trust_env = False
        self._proxies = proxies_for(self.base_url)
        self._verify = ca_bundle()
        self._adapter = exchange.mount(self._session)
        self._session.headers.update(
            {"Accept": ACCEPT, "User-Agent": USER_AGENT, "Authorization": f"token {token}"}
        )

    def close(self) -> None:
        self._session.close()

    def _list(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> Iterator[jsonapi.Resource]:
        """All resources of a list, following ``links.next`` until it is absent."""
        url: str | None = self.base_url + path
        seen: set[str] = set()
        query: Mapping[str, str] | None = params
        while url:
            if len(seen) >= self.bounds.max_pages:
                raise ServerError(
                    f"The API's list at {path} did not end after {self.bounds.max_pages} pages; "
                    "stopping (its lists are a few pages long). Try again later; if it "
                    "persists, contact Variomedia support.",
                    method="GET",
                    path=path,
                )
            doc, _ = self._request("GET", url, params=query)
            if doc is None:
                return
            yield from doc.data
            next_url = doc.links.get("next")
            if not next_url:
                return
            url = urljoin(url, next_url)
            if url in seen:
                raise ServerError(
                    f"The API's pagination loops back to {self._server_text(url)}; stopping.",
                    method="GET",
                    path=path,
                )
            seen.add(url)
            query = None  # the next link carries the filters itself

    def _get_one(self, path: str) -> jsonapi.Resource:
        doc, response = self._request("GET", path)
        if doc is None:
            raise ServerError(f"GET {path} answered {response.status_code} without a body.")
        try:
            return doc.single()
        except jsonapi.MalformedDocument as e:
            raise ServerError(f"GET {path}: the API's answer was not understood ({e}).") from None

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        base, target = urlsplit(self.base_url), urlsplit(path_or_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            # A link to another host would carry our token there.
            raise ServerError(
                "The API sent a link to another host "
                f"({self._server_text(f'{target.scheme}://{target.netloc}')}); not following it."
            )
        return path_or_url

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[jsonapi.Document | None, requests.Response]:
        """One API call with pacing, retries where safe, and errors mapped for people."""
        url = self._url(path_or_url)
        shown = urlsplit(url).path
        headers = {"Content-Type": CONTENT_TYPE} if body is not None else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params, body, headers)
            except NetworkError as e:
                if isinstance(e, FINAL):
                    raise  # a certificate, or a hostile answer, does not get better
                self._note_failure(e)
                if method not in _IDEMPOTENT and e.unclear:
                    raise
                if attempt >= self.retry.attempts:
                    raise
                self._sleep_backoff(attempt, f"{method} {shown}")
                continue
            status = response.status_code
            if 300 <= status < 400:
                redirected = redirect_error(response, method, shown, secrets=self._secrets)
                self._note_failure(redirected)
                raise redirected
            if status == 429:
                self._wait_out_rate_limit(response, method, shown, attempt)
                continue  # 429: the request was not processed, so even a POST may be re-sent
            if status >= 500 or (200 <= status < 300 and not self._parsable(response)):
                error = self._error(response, method, shown, unclear=True)
                self._note_failure(error)
                if method not in _IDEMPOTENT or attempt >= self.retry.attempts:
                    raise error
                self._sleep_backoff(attempt, f"{method} {shown}")
                continue
            if status >= 400:
                error = self._error(response, method, shown)
                if not isinstance(error, NotFoundError):
                    self._note_failure(error)
                raise error
            self._failures_in_a_row = 0
            if not response.content:
                return None, response
            return jsonapi.parse(response.content), response

    def _wait_out_rate_limit(
        self, response: requests.Response, method: str, shown: str, attempt: int
    ) -> None:
        """Pause everyone sharing the ledger as the 429 asks, or raise if that is too long."""
        wait = retry_after(response.headers, self.clock.time())
        if wait is None:
            wait = self._backoff(attempt)
        self._note_failure(self._error(response, method, shown))
        if wait > self.retry.max_retry_after or attempt >= self.retry.attempts:
            raise RateLimitError(
                f"The Variomedia API kept refusing requests for exceeding its rate limit "
                f"(asked to wait {wait:.0f} s). Another program using the API from this "
                "machine's address may be the cause; try again in a few minutes.",
                status=429,
                method=method,
                path=shown,
            )
        logger.info("Variomedia API rate limit reached; waiting %.1f s as asked", wait)
        self.pacer.pause(wait)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> requests.Response:
        shown = urlsplit(url).path
        with self.pacer.slot():
            self.requests_sent += 1
            started = self.clock.monotonic()
            try:
                response = exchange.fetch(
                    self._session,
                    self._adapter,
                    self.bounds,
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    proxies=self._proxies,
                    verify=self._verify,
                )
            except exchange.TooSlow:
                raise AnswerTooSlow.for_(self.base_url, method, shown, self.bounds) from None
            except exchange.TooLarge:
                raise AnswerTooLarge.for_(method, shown, self.bounds) from None
            except requests.RequestException as e:
                if (problem := certificate_problem(e)) is not None:
                    raise UntrustedCertificate(
                        f"The Variomedia API at {self.base_url} presented an HTTPS certificate "
                        f"that cannot be trusted ({problem}); nothing was sent. Check "
                        "dns_variomedia_api_url; if the API really uses a private CA, give its "
                        "certificate in REQUESTS_CA_BUNDLE. Verification is never switched off.",
                        method=method,
                        path=shown,
                    ) from None
                raise NetworkError(
                    f"No answer from the Variomedia API at {self.base_url} ({reason(e)}). "
                    "Check the network connection and dns_variomedia_api_url.",
                    method=method,
                    path=shown,
                    unclear=not isinstance(e, requests.ConnectTimeout) and not refused(e),
                ) from None
        logger.debug(
            "%s %s -> %s (%d bytes, %.0f ms)",
            method,
            shown,
            response.status_code,
            len(response.content),
            (self.clock.monotonic() - started) * 1000,
        )
        return response

    @staticmethod
    def _parsable(response: requests.Response) -> bool:
        if not response.content:
            return True
        try:
            jsonapi.parse(response.content)
        except jsonapi.MalformedDocument:
            return False
        return True

    def _error(
        self, response: requests.Response, method: str, path: str, *, unclear: bool = False
    ) -> APIError:
        return error_for(
            response,
            method,
            path,
            token_source=self.token_source,
            secrets=self._secrets,
            unclear=unclear,
        )

    def _server_text(self, text: str) -> str:
        """A server's words (a link, a header) as a message may quote them."""
        return scrub(text, self._secrets)

    def _note_failure(self, error: APIError) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= self.retry.max_consecutive_failures:
            self._failures_in_a_row = 0
            raise type(error)(
                f"{error} Giving up after {self.retry.max_consecutive_failures} failed requests "
                "in a row, so that the API does not lock this address out.",
                status=error.status,
                error_id=error.error_id,
                method=error.method,
                path=error.path,
                unclear=error.unclear,
            ) from None

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.backoff * 2 ** (attempt - 1), self.retry.max_backoff))

    def _sleep_backoff(self, attempt: int, what: str) -> None:
        pause = self._backoff(attempt)
        logger.info("Retrying %s in %.1f s (attempt %d failed)", what, pause, attempt)
        self.clock.sleep(pause)
