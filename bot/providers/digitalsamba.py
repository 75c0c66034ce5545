"""Digital Samba REST client: the only module that knows its paths and fields.

One injected `httpx.AsyncClient` (base URL, explicit timeouts, Bearer auth).
Failures become `ProviderError`s worded for a Slack user. Retries come from
tenacity: idempotent requests retry 5xx, timeouts and connection failures with
backoff; every request retries 429 after the server's `Retry-After`; a POST is
retried only when the request provably never reached the server (connect
error) or was refused unprocessed (429), so a room create never runs twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote
from typing import Any, AsyncIterator

import aiohttp
import httpx
import jwt
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from bot.config import ConfigError
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.base import (
    LiveRoom,
    OptionResult,
    Participant,
    Poll,
    PollOption,
    PollResults,
    PollType,
    Room,
    Session,
    Summary,
    SummaryStatus,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API's maximum `limit`
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_RETRY_AFTER = 30.0  # a longer wait is reported to the user rather than slept through


WEBHOOK_NAME = "meetops"  # the name meetops gives its webhook; registering again replaces it


@dataclass(frozen=True)
class WebhookRegistration:
    id: str
    url: str
    secret: str | None = None  # shown once to the operator
    note: str = ""


class BearerAuth(httpx.Auth):
    def __init__(self, developer_key: str):
        self._header = f"Bearer {developer_key}"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:  # never show the key, even in a debugger or a traceback
        return "BearerAuth(***)"


def build_http_client(base_url: str, developer_key: str, *, timeout: float = 10.0,
                      transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        auth=BearerAuth(developer_key),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"Accept": "application/json", "User-Agent": "meetops/0.1"},
        # httpcore's pool rescans every connection for every request, which costs whole
        # seconds of CPU with a few hundred concurrent calls; aiohttp's pool does not.
        transport=transport or AiohttpTransport(limits=limits),
    )


class _Transient(Exception):
    """Internal: a failure worth another attempt; carries the error to raise if attempts run out."""

    def __init__(self, error: ProviderError, wait: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.wait = wait


_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)


def _wait(retry_state) -> float:
    """The server's Retry-After when it gave one, else exponential backoff with jitter."""
    exc = retry_state.outcome.exception()
    if isinstance(exc, _Transient) and exc.wait is not None:
        return exc.wait
    return _BACKOFF(retry_state)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _describe_errors(errors: dict) -> str:
    parts = []
    for field_name, messages in errors.items():
        if isinstance(messages, list):
            parts.extend(str(m) for m in messages)
        else:
            parts.append(f"{field_name}: {messages}")
    return " ".join(parts)


def _path(*segments: str) -> str:
    """A path from segments, each percent-encoded: a room name typed by a person can't add a path or query."""
    return "/".join(quote(str(segment), safe="") for segment in segments)


class DigitalSambaClient:
    """`MeetingProvider` for Digital Samba."""

    def __init__(self, http: httpx.AsyncClient, *, team_id: str, developer_key: str, attempts: int = 3):
        self._http = http
        self._team_id = team_id
        self._signing_key = developer_key
        self._attempts = attempts

    def __repr__(self) -> str:
        return f"DigitalSambaClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -----------------------------------------------------------------

    async def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        """`path` is relative to the API base; build it with `_path` so ids and names are escaped."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=_wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, path, params=params, json=json)
        except _Transient as exc:
            raise exc.error from None

    async def _send_once(self, method: str, path: str, *, params: dict | None, json: Any) -> Any:
        idempotent = method in IDEMPOTENT
        started = time.monotonic()
        try:
            response = await self._http.request(method, path.lstrip("/"), params=params, json=json)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not _never_connected(exc):
                raise _unanswered(method, self._http.timeout.read) from None
            # Nothing reached the server, so even a POST may be tried again.
            raise _Transient(ProviderUnavailable(
                "I can't reach Digital Samba right now. Please try again in a minute."))
        except httpx.TimeoutException:
            raise _unanswered(method, self._http.timeout.read) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Talking to Digital Samba failed ({type(exc).__name__}). Please try again.") from None
        log.debug("digitalsamba %s %s -> %s in %.0f ms", method, path, response.status_code,
                  (time.monotonic() - started) * 1000)
        if response.status_code < 400:
            if response.status_code == 204 or not response.content:
                return None
            return response.json()
        raise self._error_for(response, idempotent)

    def _error_for(self, response: httpx.Response, idempotent: bool) -> Exception:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or "").strip()
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        if status == 429:
            retry_after = _retry_after(response)
            error = ProviderRateLimited(
                "Digital Samba is rate-limiting us right now. Please try again"
                + (f" in {retry_after:.0f} s." if retry_after else " in a minute."),
                retry_after=retry_after,
            )
            # The request was refused unprocessed, so any method may be sent again after the wait.
            if retry_after is None or retry_after <= MAX_RETRY_AFTER:
                return _Transient(error, wait=retry_after if retry_after is not None else 1.0)
            return error
        if status in (401, 403):
            return ProviderAuthError(
                "Digital Samba refused the bot's credentials. An admin needs to check the "
                "DS_TEAM_ID and DS_DEVELOPER_KEY settings.", status=status)
        if status == 404:
            return ProviderNotFound(message or "Digital Samba doesn't know that item.", status=status)
        if status >= 500:
            error = ProviderUnavailable(
                f"Digital Samba had an internal error (HTTP {status}). Please try again in a minute.", status=status)
            return _Transient(error) if idempotent else error
        detail = _describe_errors(errors)
        text = message if not detail or detail in message else f"{message} {detail}".strip()
        return ProviderRejected(f"Digital Samba said no: {text or f'HTTP {status}'}", status=status, errors=errors)

    async def _pages(self, path: str, params: dict | None = None) -> AsyncIterator[dict]:
        """Every item of a list endpoint, one page (limit/offset) at a time."""
        offset = 0
        while True:
            body = await self._request("GET", path, params={**(params or {}), "limit": PAGE_SIZE, "offset": offset})
            items = body.get("data") or []
            for item in items:
                yield item
            offset += len(items)
            total = int(body.get("total_count") or 0)  # the API sometimes sends it as a string
            if not items or offset >= total:
                return

    # -- rooms ---------------------------------------------------------------------

    @staticmethod
    def _room(data: dict) -> Room:
        if not isinstance(data, dict) or "id" not in data:
            # e.g. GET rooms/live is the live-rooms list, not a room whose link name is "live".
            raise ProviderNotFound("Digital Samba has no room by that name.")
        return Room(
            id=data["id"],
            friendly_url=data.get("friendly_url") or data["id"],
            description=data.get("description"),
            privacy=data.get("privacy") or "public",
            room_url=data.get("room_url") or "",
        )

    async def create_room(self, *, friendly_url: str, description: str, private: bool, external_id: str) -> Room:
        body = {
            "friendly_url": friendly_url,
            "description": description,
            "privacy": "private" if private else "public",
            "external_id": external_id,
            # Summaries need a transcript; meetops promises summaries, so it asks for one.
            "transcription_enabled": True,
            "transcription_auto_start_enabled": True,
        }
        return self._room(await self._request("POST", "rooms", json=body))

    async def get_room(self, room: str) -> Room:
        return self._room(await self._request("GET", _path("rooms", room)))

    async def iter_rooms(self) -> AsyncIterator[Room]:
        async for item in self._pages("rooms"):
            yield self._room(item)

    async def iter_live_rooms(self) -> AsyncIterator[LiveRoom]:
        async for item in self._pages("rooms/live"):
            yield LiveRoom(room_id=item["id"], participants=int(item.get("live_participants") or 0),
                           started_at=_parse_time(item.get("start_time")))

    # -- sessions ------------------------------------------------------------------

    @staticmethod
    def _session(data: dict) -> Session:
        live = bool(data.get("live"))
        count = data.get("participants_live") if live else data.get("participants_total")
        return Session(
            id=data["id"],
            room_id=data.get("room_id") or "",
            started_at=_parse_time(data.get("start_time")),
            ended_at=_parse_time(data.get("end_time")),
            live=live,
            participants=int(count or data.get("participants_total") or 0),
        )

    async def _first_session(self, room: str, **filters) -> Session | None:
        body = await self._request("GET", _path("rooms", room, "sessions"), params={"limit": 1, "order": "desc", **filters})
        items = body.get("data") or []
        return self._session(items[0]) if items else None

    async def live_session(self, room: str) -> Session | None:
        return await self._first_session(room, live="true")

    async def latest_session(self, room: str) -> Session | None:
        return await self._first_session(room)

    async def iter_sessions(self, *, since: date, until: date) -> AsyncIterator[Session]:
        params = {"date_start": since.isoformat(), "date_end": until.isoformat(), "order": "asc"}
        async for item in self._pages("sessions", params):
            yield self._session(item)

    async def end_session(self, session_id: str) -> None:
        await self._request("POST", _path("sessions", session_id, "end"))

    async def get_summary(self, session_id: str) -> Summary:
        try:
            body = await self._request("GET", _path("sessions", session_id, "summary"))
        except ProviderNotFound:
            # Digital Samba has nothing to summarise when transcription was off.
            return Summary(SummaryStatus.NO_TRANSCRIPT)
        body = body or {}
        status = SummaryStatus.READY if str(body.get("status")).upper() == "READY" else SummaryStatus.IN_PROGRESS
        return Summary(status, str(body.get("summary") or ""))

    # -- polls ---------------------------------------------------------------------

    @staticmethod
    def _poll(data: dict) -> Poll:
        return Poll(
            id=data["id"],
            question=data.get("question") or "",
            status=data.get("status") or "",
            anonymous=bool(data.get("anonymous")),
            multiple=bool(data.get("multiple")),
            options=tuple(PollOption(o.get("id", ""), o.get("text", "")) for o in data.get("options") or ()),
        )

    async def create_poll(self, room: str, *, question: str, type: PollType, anonymous: bool, options: list[str]) -> Poll:
        body = {"question": question, "type": str(type), "anonymous": anonymous,
                "options": [{"text": text} for text in options]}
        return self._poll(await self._request("POST", _path("rooms", room, "polls"), json=body))

    async def iter_polls(self, room: str) -> AsyncIterator[Poll]:
        async for item in self._pages(_path("rooms", room, "polls")):
            yield self._poll(item)

    async def poll_results(self, room: str, poll_id: str) -> PollResults:
        body = await self._request("GET", _path("rooms", room, "polls", poll_id, "results"))
        # The API answers a list with one entry per session the poll ran in; add them up.
        entries = body if isinstance(body, list) else [body] if body else []
        question = next((e.get("question") for e in entries if e.get("question")), "")
        merged: dict[str, OptionResult] = {}
        for entry in entries:
            for option in entry.get("options") or ():
                key = option.get("id") or option.get("text", "")
                voters = tuple(v.get("name", "") for v in option.get("voters") or () if v.get("name"))
                prev = merged.get(key)
                merged[key] = OptionResult(
                    text=option.get("text", ""),
                    votes=(prev.votes if prev else 0) + int(option.get("voted") or 0),
                    voters=(prev.voters if prev else ()) + voters,
                )
        options = tuple(merged.values())
        return PollResults(poll_id=poll_id, question=question, total_votes=sum(o.votes for o in options), options=options)

    # -- restreams -----------------------------------------------------------------

    async def start_restream(self, room: str, *, stream_key: str, type: str | None = None, server_url: str | None = None) -> None:
        if (type is None) == (server_url is None):
            raise ValueError("exactly one of type or server_url")
        body = {"stream_key": stream_key, **({"type": type} if type else {"server_url": server_url})}
        await self._request("POST", _path("rooms", room, "restreamers", "start"), json=body)

    async def stop_restream(self, room: str) -> None:
        await self._request("POST", _path("rooms", room, "restreamers", "stop"))

    # -- recordings and webhooks ---------------------------------------------------

    async def recording_link(self, recording_id: str) -> str:
        body = await self._request("GET", _path("recordings", recording_id, "download"))
        return str((body or {}).get("link") or "")

    async def create_webhook(self, *, endpoint: str, events: list[str], authorization_header: str, name: str) -> str:
        body = {"endpoint": endpoint, "events": events, "authorization_header": authorization_header, "name": name}
        return (await self._request("POST", "webhooks", json=body))["id"]

    async def list_webhooks(self) -> list[WebhookRegistration]:
        """The team's webhooks; their authorization values are not kept (they are secrets)."""
        return [WebhookRegistration(id=str(item.get("id")), url=str(item.get("endpoint") or ""),
                                    note=str(item.get("name") or ""))
                async for item in self._pages("webhooks")]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", _path("webhooks", webhook_id))

    async def register_webhook(self, url: str) -> WebhookRegistration:
        """Replace the webhook meetops registered before (same URL or name) with one carrying a fresh token,
        shown once."""
        import secrets

        from commands.webhooks import WEBHOOK_EVENTS  # the provider folder will own its event list

        earlier = [hook.id for hook in await self.list_webhooks() if hook.url == url or hook.note == WEBHOOK_NAME]
        token = secrets.token_urlsafe(32)
        webhook_id = await self.create_webhook(endpoint=url, events=list(WEBHOOK_EVENTS), authorization_header=token,
                                               name=WEBHOOK_NAME)
        # Deleted only once the new one exists: a failed register leaves the old one working. Two would
        # deliver every event twice, one of them refused forever with the old token.
        for hook_id in earlier:
            await self.delete_webhook(hook_id)
        replaced = f"It replaces the webhook meetops registered before ({', '.join(earlier)}). " if earlier else ""
        return WebhookRegistration(id=webhook_id, url=url, secret=token,
                                   note=f"{replaced}Set the token as DS_WEBHOOK_TOKEN in the bot's environment and "
                                        "restart it.")

    # -- the start-up probe ----------------------------------------------------------

    async def check(self) -> None:
        """One cheap authenticated read (the first room), so that a wrong URL or key stops the bot at
        start-up with the setting named, instead of failing every command later.

        Raises ConfigError worded for whoever runs the bot (no "meetops cannot start" prefix: the caller says
        what it was doing). One plain request, no retries: one clear answer now.
        """
        base = str(self._http.base_url).rstrip("/")
        try:
            response = await self._http.get("rooms", params={"limit": 1})
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise ConfigError(
                f"DS_API_URL: {base!r} is not an http(s) URL; it should look like "
                "https://api.digitalsamba.com/api/v1.") from None
        except httpx.TimeoutException as exc:
            if not _never_connected(exc):
                raise ConfigError(
                    f"DS_API_URL: {base} did not answer within {self._http.timeout.read or 0:g} s. Check the "
                    "address (and DS_TIMEOUT_SECONDS).") from None
            raise ConfigError(f"DS_API_URL: cannot reach {base} ({_reason(exc)}). Check the address "
                                      "and the network.") from None
        except httpx.HTTPError as exc:
            raise ConfigError(f"DS_API_URL: cannot reach {base} ({_reason(exc)}). Check the address "
                                      "and the network.") from None
        status = response.status_code
        if status in (401, 403):
            raise ConfigError(
                f"DS_DEVELOPER_KEY: Digital Samba refused the key (HTTP {status}). Copy the developer key (and "
                "DS_TEAM_ID) from the Digital Samba dashboard: Team Settings → Developer.")
        if status == 404:
            hint = ("it should end in /api/v1." if not base.endswith("/api/v1")
                    else "is it the Digital Samba API (https://api.digitalsamba.com/api/v1)?")
            raise ConfigError(f"DS_API_URL: {base} has no rooms list (HTTP 404 for GET {base}/rooms); {hint}")
        if status >= 400:
            raise ConfigError(
                f"DS_API_URL: Digital Samba at {base} answered HTTP {status} to a simple read. Try again in a "
                "minute.")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ConfigError(
                f"DS_API_URL: {base} answered, but not like the Digital Samba API (no room list in the "
                "reply); it should look like https://api.digitalsamba.com/api/v1.")

    # -- join links ----------------------------------------------------------------

    def join_link(self, room: Room, participant: Participant, *, lifetime: timedelta) -> str:
        now = int(time.time())
        claims = {
            "td": self._team_id,
            "rd": room.id,
            "ud": participant.external_id,
            "u": participant.name,
            "avatar": participant.avatar,
            "role": participant.role,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime.total_seconds()),
        }
        # Digital Samba reads a missing claim as "not given"; a null is not the same thing.
        token = jwt.encode({k: v for k, v in claims.items() if v not in (None, "")}, self._signing_key, algorithm="HS256")
        separator = "&" if "?" in room.room_url else "?"
        return f"{room.room_url}{separator}token={token}"


def _reason(exc: Exception) -> str:
    """Why a connection failed, in a few words (the OS's own: "Connection refused", "Name or service not known")."""
    cause = exc.__cause__ or exc
    while getattr(cause, "os_error", None) is not None:  # aiohttp wraps the OSError
        cause = cause.os_error
    text = " ".join(str(getattr(cause, "strerror", None) or cause).split())[:200]
    return text or type(cause).__name__


def _never_connected(exc: httpx.TransportError) -> bool:
    """True when the request provably never left: the TCP connection itself failed.

    The aiohttp transport reports both a refused connection and a connection lost
    mid-request as ConnectTimeout; only aiohttp's connector error means "never sent".
    """
    return isinstance(exc, httpx.ConnectError) or isinstance(exc.__cause__, aiohttp.ClientConnectorError)


def _unanswered(method: str, timeout: float | None) -> Exception:
    error = ProviderUnavailable(
        f"Digital Samba is not answering (no reply within {timeout or 0:g} s). Please try again in a minute.")
    # A POST that got no answer may still have been carried out: never repeat it blindly.
    return _Transient(error) if method in IDEMPOTENT else error


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
