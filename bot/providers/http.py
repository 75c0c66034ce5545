"""The one HTTP layer every provider client sits on.

One injected `httpx.AsyncClient` per provider (base URL, explicit timeouts, the provider's own
`httpx.Auth`), and `ProviderHTTP.request`, which adds what every provider needs the same way:

- retries by tenacity: 429 after the server's `Retry-After` (seconds or an HTTP date), 5xx, timeouts and
  dropped connections for idempotent methods with jittered backoff; a POST (or PATCH) is sent again only
  when it provably never left (the TCP connection failed) or was refused unprocessed (429);
- one deadline per user action: all attempts together stay within `deadline` seconds, and the message
  says that figure, so a person waits at most what they are told; a wait that would end past it is not
  started, and the failure that happened is said instead;
- failures become the domain errors of `bot.errors`, worded for a Slack user, through a small
  per-provider `ErrorWords` (its name, the settings to check, how to read its error body);
- paging as async iterators (offset, page + `link` header, cursor) so page styles stay out of commands.

Nothing here logs a request or an answer body: providers echo secrets (stream keys) in theirs.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_before_delay, wait_exponential_jitter

from bot.config import ConfigError
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderGone,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_RETRY_AFTER = 30.0  # a longer wait is reported to the person rather than slept through
# Less of the deadline than this left is not worth another attempt.
MIN_ATTEMPT_SECONDS = 0.05


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verified TLS settings (httpx's defaults) every provider client shares. Building them reads the
    whole CA bundle, about 50 ms of CPU: once per process rather than once per client."""
    return httpx.create_ssl_context()


def build_http_client(base_url: str, *, auth: httpx.Auth | None, timeout: float = 10.0,
                      transport: httpx.AsyncBaseTransport | None = None,
                      headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        auth=auth,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"Accept": "application/json", "User-Agent": "meetops/0.2", **(headers or {})},
        # httpcore's pool rescans every connection for every request, which costs whole
        # seconds of CPU with a few hundred concurrent calls; aiohttp's pool does not.
        transport=transport or AiohttpTransport(limits=limits, verify=tls_context()),
    )


def is_http_url(url: str) -> bool:
    """Whether a configured API address can be asked at all (`nope`, `ftp://…` can't: said at start-up)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class ProbeInconclusive(Exception):
    """The start-up probe reached the platform, which is in trouble right now (a server error, a rate limit):
    that says nothing about the settings. `serve` starts anyway (each command says so while it lasts), rather
    than keep the whole bot from Slack over a platform's bad minute."""


def probe_inconclusive(title: str, base: str, status: int | None) -> ProbeInconclusive:
    what = "is rate-limiting" if status == 429 else f"answered HTTP {status}"
    return ProbeInconclusive(f"{title} at {base} {what} to the start-up check: trouble on its side, not a "
                             "setting.")


def probe_failure(setting: str, title: str, base: str, exc: ProviderError) -> ConfigError | ProbeInconclusive:
    """A start-up probe that got no usable answer, worded for whoever runs the bot, the setting first."""
    if isinstance(exc, ProviderRateLimited) or (isinstance(exc, ProviderUnavailable) and (exc.status or 0) >= 500):
        return probe_inconclusive(title, base, exc.status)
    if isinstance(exc, ProviderUnavailable):  # no connection, or no answer in time
        what = exc.user_message.removesuffix(" Please try again in a minute.")
        return ConfigError(f"{setting}: no usable answer from {base}: {what} Check the address, or try again in "
                           "a minute.")
    return ConfigError(f"{setting}: {title} at {base} did not answer as expected: {exc.user_message}")


def path(*segments: Any) -> str:
    """A path from segments, each percent-encoded: a room name typed by a person can't add a path or query."""
    return "/".join(quote(str(segment), safe="") for segment in segments)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (with `Z`, an offset or none: UTC), or Unix time in seconds (or milliseconds, as some
    platforms send it); None for anything else, a number no clock can show (`1e300`) included."""
    if not value or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) > 100_000_000_000 else value  # past the year 5138: milliseconds
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def retry_after(response: httpx.Response, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date (RFC 9110)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now()).total_seconds())


def json_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class ErrorWords:
    """How one provider's failures are said. `message(response)` reads its error body into a sentence
    (never echoing a secret); `settings` names what an admin checks when credentials are refused."""

    title: str
    settings: str
    message: Callable[[httpx.Response], str] = lambda response: str(json_body(response).get("message") or "")
    # 4xx bodies that mean something the person can act on: status -> exception class
    rejected: Callable[[httpx.Response, str], ProviderError] | None = None


class _Transient(Exception):
    """Internal: a failure worth another attempt; carries the error to raise if attempts run out."""

    def __init__(self, error: ProviderError, wait: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.wait = wait


_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)


def _wait(retry_state) -> float:
    exc = retry_state.outcome.exception()
    if isinstance(exc, _Transient) and exc.wait is not None:
        return exc.wait
    return _BACKOFF(retry_state)


def _never_connected(exc: httpx.TransportError) -> bool:
    """True when the request provably never left: the TCP connection itself failed.

    The aiohttp transport reports both a refused connection and a connection lost
    mid-request as ConnectTimeout; only aiohttp's connector error means "never sent".
    """
    return isinstance(exc, httpx.ConnectError) or isinstance(exc.__cause__, aiohttp.ClientConnectorError)


class ProviderHTTP:
    """`request()` with the retries, deadline and error words described above."""

    def __init__(self, http: httpx.AsyncClient, words: ErrorWords, *, attempts: int = 3,
                 deadline: float | None = None):
        self.http = http
        self.words = words
        self.attempts = attempts
        # One budget for a whole user action: by default the client's read timeout.
        self.deadline = deadline if deadline is not None else (http.timeout.read or 10.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, url: str, *, params: dict | None = None, json: Any = None,
                      data: dict | None = None, headers: dict | None = None, raw: bool = False) -> Any:
        """The answer's JSON (None for an empty one), or the response itself with `raw=True`.
        `url` is relative to the base URL (build it with `path()`), or absolute (a `link` header's)."""
        started = time.monotonic()
        retrying = AsyncRetrying(
            # Stop *before* a wait (a backoff, a Retry-After) that would end past the deadline: the person then
            # hears the failure that happened (a server error, a rate limit and its wait) within the deadline,
            # not "not answering" after it.
            stop=stop_after_attempt(self.attempts)
            | stop_before_delay(max(self.deadline - MIN_ATTEMPT_SECONDS, 0.0)),
            wait=_wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    remaining = self.deadline - (time.monotonic() - started)
                    if remaining <= MIN_ATTEMPT_SECONDS:
                        raise self._unanswered(method, retry=False)
                    return await self._send_once(method, url, params=params, json=json, data=data,
                                                 headers=headers, raw=raw, timeout=remaining)
        except _Transient as exc:
            raise exc.error from None

    async def _send_once(self, method: str, url: str, *, params, json, data, headers, raw: bool,
                         timeout: float) -> Any:
        idempotent = method in IDEMPOTENT
        started = time.monotonic()
        base = self.http.timeout
        try:
            response = await self.http.request(
                method, url.lstrip("/") if "://" not in url else url, params=params, json=json, data=data,
                headers=headers,
                timeout=httpx.Timeout(min(base.read or timeout, timeout), connect=min(base.connect or timeout, timeout)))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not _never_connected(exc):
                raise self._unanswered(method, retry=idempotent) from None
            # Nothing reached the server, so even a POST may be tried again.
            raise _Transient(ProviderUnavailable(
                f"I can't reach {self.words.title} right now. Please try again in a minute."))
        except httpx.TimeoutException:
            raise self._unanswered(method, retry=idempotent) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"Talking to {self.words.title} failed ({type(exc).__name__}). Please try again.") from None
        log.debug("%s %s %s -> %s in %.0f ms", self.words.title, method, url.split("?")[0], response.status_code,
                  (time.monotonic() - started) * 1000)
        if response.status_code < 400:
            if raw:
                return response
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ProviderUnavailable(f"{self.words.title} sent an answer I can't read. Please try again.") from None
        raise self.error_for(response, idempotent)

    def _unanswered(self, method: str, *, retry: bool) -> Exception:
        error = ProviderUnavailable(
            f"{self.words.title} is not answering (no reply within {self.deadline:g} s). Please try again in a minute.")
        # A POST that got no answer may still have been carried out: never repeat it blindly.
        return _Transient(error) if retry else error

    def error_for(self, response: httpx.Response, idempotent: bool) -> Exception:
        status, title = response.status_code, self.words.title
        if status == 429:
            wait = retry_after(response)
            error = ProviderRateLimited(
                f"{title} is rate-limiting us right now. Please try again"
                + (f" in {wait:.0f} s." if wait else " in a minute."), retry_after=wait)
            # Refused unprocessed, so any method may be sent again after the wait.
            if wait is None or wait <= MAX_RETRY_AFTER:
                return _Transient(error, wait=wait if wait is not None else 1.0)
            return error
        if status in (401, 403):
            return ProviderAuthError(
                f"{title} refused the bot's credentials. An admin needs to check the {self.words.settings} "
                "settings.", status=status)
        message = (self.words.message(response) or "").strip()
        if status >= 500:
            error = ProviderUnavailable(
                f"{title} had an internal error (HTTP {status}). Please try again in a minute.", status=status)
            return _Transient(error) if idempotent else error
        if self.words.rejected is not None:
            custom = self.words.rejected(response, message)
            if custom is not None:
                return custom
        if status == 404:
            return ProviderNotFound(message or f"{title} doesn't know that item.", status=status)
        if status == 410:
            return ProviderGone(message or "That meeting is over.", status=status)
        return ProviderRejected(f"{title} said no: {message or f'HTTP {status}'}", status=status)

    # -- paging --------------------------------------------------------------------------

    async def offset_pages(self, url: str, params: dict | None = None, *, limit: int = 100,
                           items: Callable[[Any], list] = lambda body: (body or {}).get("data") or [],
                           total: Callable[[Any], int | None] = lambda body: None) -> AsyncIterator[dict]:
        """limit/offset paging until a short page (or `total` reached)."""
        offset = 0
        while True:
            body = await self.request("GET", url, params={**(params or {}), "limit": limit, "offset": offset})
            page = items(body)
            for item in page:
                yield item
            offset += len(page)
            known = total(body)
            if not page or (known is not None and offset >= known) or (known is None and len(page) < limit):
                return

    async def link_pages(self, url: str, params: dict | None = None) -> AsyncIterator[Any]:
        """Pages that point to the next one with a `link: <…>; rel="next"` header (RFC 8288)."""
        next_url: str | None = url
        first = True
        while next_url:
            response = await self.request("GET", next_url, params=params if first else None, raw=True)
            first = False
            body = response.json() if response.content else []
            for item in body if isinstance(body, list) else (body.get("data") or []) if isinstance(body, dict) else []:
                yield item
            next_url = response.links.get("next", {}).get("url")

    async def cursor_pages(self, url: str, params: dict | None = None, *, cursor_param: str = "after",
                           items: Callable[[Any], list] = lambda body: (body or {}).get("data") or [],
                           next_cursor: Callable[[Any], str | None] = lambda body: (body or {}).get("next_cursor"),
                           ) -> AsyncIterator[dict]:
        cursor: str | None = None
        while True:
            query = {**(params or {}), **({cursor_param: cursor} if cursor else {})}
            body = await self.request("GET", url, params=query)
            for item in items(body):
                yield item
            cursor = next_cursor(body)
            if not cursor:
                return
