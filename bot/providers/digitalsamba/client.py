"""Digital Samba REST client: the only module that knows its paths and fields.

It sits on the shared HTTP layer (`bot.providers.http`: retries, one deadline per action, errors in
words) with a Bearer developer key. Join links are JWTs signed locally with the developer key: no
round trip per person.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, AsyncIterator

import httpx
import jwt

from bot.config import ConfigError
from bot.errors import (
    ProviderError,
    ProviderGone,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.base import (
    JoinGrant,
    LiveRoom,
    OptionResult,
    Person,
    Poll,
    PollOption,
    PollResults,
    PollType,
    Provider,
    Recording,
    RestreamStarted,
    RestreamTarget,
    Room,
    RoomSpec,
    Session,
    Summary,
    SummaryStatus,
    WebhookRegistration,
)
from bot.providers.http import (ErrorWords, ProviderHTTP, _never_connected, build_http_client, json_body, parse_time,
                               probe_inconclusive)
from bot.providers.http import path as _path

PAGE_SIZE = 100  # the API's maximum `limit`
WEBHOOK_NAME = "meetops"


def _reason(exc: Exception) -> str:
    """Why a connection failed, in a few words (the OS's own where there is one)."""
    cause = exc.__cause__ or exc
    while getattr(cause, "os_error", None) is not None:  # aiohttp wraps the OSError
        cause = cause.os_error
    return " ".join(str(getattr(cause, "strerror", None) or cause).split())[:200] or type(cause).__name__


class BearerAuth(httpx.Auth):
    def __init__(self, developer_key: str):
        self._header = f"Bearer {developer_key}"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:  # never show the key, even in a debugger or a traceback
        return "BearerAuth(***)"


# What each field meetops sends is, in the words of the person who typed it (Digital Samba's field names and
# zero-based item numbers never reach Slack). `{n}` is an item's number counted from 1.
_FIELD_LABELS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), label) for pattern, label in (
    (r"friendly_url", "the link name"),
    (r"description", "the room name"),  # meetops sends the room's name as its description
    (r"external_id", "the room's Slack reference"),
    (r"question", "the question"),
    (r"options", "the options"),
    (r"options\.(\d+)(?:\.text)?", "option {n}"),
    (r"stream_key", "the stream key"),
    (r"server_url", "the server URL"),
    (r"endpoint", "the webhook URL"),
    (r"events", "the list of webhook events"),
    (r"events\.(\d+)", "webhook event {n}"),
    (r"name", "the webhook name"),
))


def _field_label(field_name: str, url: str) -> str:
    if field_name == "type":
        return ("the stream destination" if "/restreamers" in url else "the poll type" if "/polls" in url
                else "the type")
    for pattern, label in _FIELD_LABELS:
        match = pattern.fullmatch(field_name)
        if match:
            number = next((g for g in match.groups() if g is not None), None)
            return label.format(n=int(number) + 1) if number is not None else label
    # A field meetops never sends: still no dotted name or zero-based index in the sentence.
    words = [str(int(part) + 1) if part.isdigit() else part.replace("_", " ") for part in field_name.split(".")]
    return "the " + " ".join(words)


def _field_sentence(field_name: str, message: str, url: str) -> str:
    """One of Digital Samba's (Laravel's) field messages as a sentence about what the person typed."""
    label = _field_label(field_name, url)
    text = message.lower()
    limit = re.search(r"(\d+) characters", text)
    if "has already been taken" in text:
        sentence = f"{label} is already taken."
    elif "prohibited when" in text:
        sentence = "choose either a streaming platform or a custom server URL, not both."
    elif "required when" in text and field_name == "type":
        sentence = "choose a streaming platform or give a custom server URL."
    elif field_name == "options" and "required" in text:
        sentence = "a poll with choices needs its options."
    elif "is required" in text or "must be a string" in text:
        sentence = f"{label} is empty." if field_name.startswith("options.") else f"{label} is missing."
    elif "at least" in text and limit:
        sentence = f"{label} needs at least {limit.group(1)} characters."
    elif ("greater than" in text or "may not be" in text) and limit:
        sentence = f"{label} can have at most {limit.group(1)} characters."
    elif "must start with one of the following" in text:
        sentence = f"{label} must start with {message.split(':', 1)[-1].strip().rstrip('.').replace(', ', ' or ')}."
    elif "valid url" in text:
        sentence = f"{label} must be a web address starting with https://."
    elif "format is invalid" in text and field_name == "friendly_url":
        sentence = f"{label} may only have letters, digits, - and _."
    elif "selected" in text and "invalid" in text:
        sentence = f"{label} isn't one Digital Samba offers."
    else:
        sentence = f"{label} wasn't accepted."
    return sentence[0].upper() + sentence[1:]


def _describe_errors(errors: dict, url: str = "") -> str:
    sentences: list[str] = []
    for field_name, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            sentence = _field_sentence(str(field_name), str(message), url)
            if sentence not in sentences:
                sentences.append(sentence)
    return " ".join(sentences)


def _url_of(response: httpx.Response) -> str:
    try:
        return str(response.request.url)
    except RuntimeError:  # a response built without its request (tests)
        return ""


# Refusals (without field errors) that mean the meeting the request needs is not running.
_NO_SESSION = re.compile(r"no live session|session is not live|not in a live session", re.IGNORECASE)


# What a 404 is about: the last item its path names by id (`/rooms/{id}/polls/{poll}/results`: the poll;
# `/rooms/{id}/recordings/start`: the room).
_MISSING = {"recordings": "this recording", "polls": "this poll (or its room)", "sessions": "this meeting",
            "webhooks": "this webhook", "rooms": "this room"}
_NOT_AN_ID = frozenset(_MISSING) | {"start", "stop", "end", "download", "results", "summary", "restreamers"}


def _not_found(response: httpx.Response) -> ProviderNotFound:
    """Digital Samba's 404 says only "Not Found" (its OpenAPI's example): what is missing, in words."""
    segments = httpx.URL(_url_of(response)).path.split("/")
    named = [_MISSING[kind] for kind, ref in zip(segments, segments[1:]) if kind in _MISSING and ref not in _NOT_AN_ID]
    thing = named[-1] if named else "that"
    advice = " If it was, `/meet delete` with the room's name removes it here too." if thing == "this room" else ""
    return ProviderNotFound(f"Digital Samba no longer has {thing}: it may have been deleted there.{advice}",
                            status=response.status_code)


def _rejected(response: httpx.Response, message: str) -> ProviderError | None:
    """4xx: Digital Samba's reason in the person's words. Its per-field messages (Laravel's `errors`) become
    sentences about what they typed; "no live session" becomes ProviderGone (the meeting is over), which
    the command words with the room's name; a 404 names what is missing."""
    if response.status_code == 404:
        return _not_found(response)
    if response.status_code == 410 or response.status_code >= 500:
        return None
    body = json_body(response)
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    if errors:
        # Laravel's summary `message` repeats the first field message with its field name: leave it out.
        text = _describe_errors(errors, _url_of(response))
    elif _NO_SESSION.search(message):
        return ProviderGone("The meeting in this room has ended (Digital Samba has no live session for it).",
                            status=response.status_code)
    else:
        text = message
    return ProviderRejected(f"Digital Samba said no: {text or f'HTTP {response.status_code}'}",
                            status=response.status_code, errors=errors)


WORDS = ErrorWords(title="Digital Samba", settings="DS_TEAM_ID and DS_DEVELOPER_KEY", rejected=_rejected)


def build_http(base_url: str, key: str, *, timeout: float = 10.0,
               transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return build_http_client(base_url, auth=BearerAuth(key), timeout=timeout, transport=transport)


class DigitalSambaClient(Provider):
    """The Digital Samba provider."""

    participant_events = True  # participant_joined / participant_left webhooks
    no_summary_reason = ("summaries are made from the transcript, and transcription was off. To get one next time, "
                         "turn on *Transcription* (and *Start transcription automatically*) in the room's settings in "
                         "Digital Samba, or start it with the transcription button during the meeting. Rooms meetops "
                         "creates have it on.")

    def __init__(self, http: httpx.AsyncClient, *, team_id: str, developer_key: str, attempts: int = 3,
                 webhook_token: str | None = None):
        from bot.providers.digitalsamba import PLUGIN

        self.plugin = PLUGIN
        self._api = ProviderHTTP(http, WORDS, attempts=attempts)
        self._http = http
        self._team_id = team_id
        self._signing_key = developer_key
        self.webhook_token = webhook_token

    def __repr__(self) -> str:
        return f"DigitalSambaClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        return await self._api.request(method, path, params=params, json=json)

    async def _pages(self, path: str, params: dict | None = None) -> AsyncIterator[dict]:
        """Every item of a list endpoint, one page (limit/offset) at a time."""
        async for item in self._api.offset_pages(
                path, params, limit=PAGE_SIZE,
                # the API sometimes sends total_count as a string
                total=lambda body: int((body or {}).get("total_count") or 0)):
            yield item

    async def check(self) -> None:
        """The start-up probe: one cheap authenticated read (the first room), so a wrong DS_API_URL or key is
        said when the bot starts, naming the setting, instead of to the first user.

        Raises ConfigError worded for whoever runs the bot (no "meetops cannot start" prefix: the caller says
        what it was doing). One plain request, no retries: one clear answer now.
        """
        base = str(self._http.base_url).rstrip("/")
        try:
            response = await self._http.get("rooms", params={"limit": 1})
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise ConfigError(f"DS_API_URL: {base!r} is not an http(s) URL; it should look like "
                              "https://api.digitalsamba.com/api/v1.") from None
        except httpx.TimeoutException as exc:
            if not _never_connected(exc):
                raise ConfigError(f"DS_API_URL: {base} did not answer within {self._http.timeout.read or 0:g} s. "
                                  "Check the address (and DS_TIMEOUT_SECONDS).") from None
            raise ConfigError(f"DS_API_URL: cannot reach {base} ({_reason(exc)}). Check the address and the "
                              "network.") from None
        except httpx.HTTPError as exc:
            raise ConfigError(f"DS_API_URL: cannot reach {base} ({_reason(exc)}). Check the address and the "
                              "network.") from None
        status = response.status_code
        if status in (401, 403):
            raise ConfigError(f"DS_DEVELOPER_KEY: Digital Samba refused the key (HTTP {status}). Copy the developer "
                              "key (and DS_TEAM_ID) from the Digital Samba dashboard: Team Settings → Developer.")
        if status == 404:
            hint = ("it should end in /api/v1." if not base.endswith("/api/v1")
                    else "is it the Digital Samba API (https://api.digitalsamba.com/api/v1)?")
            raise ConfigError(f"DS_API_URL: {base} has no rooms list (HTTP 404 for GET {base}/rooms); {hint}")
        if status == 429 or status >= 500:
            raise probe_inconclusive("Digital Samba", base, status)
        if status >= 400:
            raise ConfigError(f"DS_API_URL: Digital Samba at {base} answered HTTP {status} to a simple read. Try "
                              "again in a minute.")
        body = json_body(response)
        if not isinstance(body.get("data"), list):
            raise ConfigError(f"DS_API_URL: {base} answered, but not like the Digital Samba API (no room list in "
                              "the reply); it should look like https://api.digitalsamba.com/api/v1.")
        # The key alone says nothing of DS_TEAM_ID, which every join link carries (a wrong one: every link is
        # refused). Digital Samba's HTTP Basic scheme takes the team id with the key: the same read that way.
        try:
            as_team = await self._http.get("rooms", params={"limit": 1},
                                           auth=httpx.BasicAuth(self._team_id, self._signing_key))
        except httpx.HTTPError as exc:
            raise ConfigError(f"DS_API_URL: cannot reach {base} ({_reason(exc)}). Check the address and the "
                              "network.") from None
        if as_team.status_code in (401, 403):
            raise ConfigError(f"DS_TEAM_ID: Digital Samba accepted the developer key but not with this team id "
                              f"(HTTP {as_team.status_code}), so every join link would be refused. Copy the team id "
                              "from the Digital Samba dashboard: Team Settings → Developer.")

    # -- rooms ---------------------------------------------------------------------

    @staticmethod
    def _room(data: Any) -> Room:
        if not isinstance(data, dict) or "id" not in data:
            # e.g. GET rooms/live is the live-rooms list, not a room whose link name is "live".
            raise ProviderNotFound("Digital Samba has no room by that name.")
        return Room(
            id=str(data["id"]),
            friendly_url=data.get("friendly_url") or str(data["id"]),
            description=data.get("description"),
            privacy=data.get("privacy") or "public",
            room_url=data.get("room_url") or "",
        )

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str = "") -> Room:
        body = {
            "friendly_url": spec.slug,
            "description": spec.description,
            "privacy": "private" if spec.private else "public",
            "external_id": spec.external_id,
            # Summaries need a transcript; meetops promises summaries, so it asks for one.
            "transcription_enabled": True,
            "transcription_auto_start_enabled": True,
        }
        try:
            return self._room(await self._request("POST", "rooms", json=body))
        except ProviderRejected as exc:
            if "friendly_url" in exc.errors:
                from bot.errors import NameTaken

                raise NameTaken(spec.slug, exc.user_message, status=exc.status, errors=exc.errors) from None
            raise

    async def get_room(self, ref: str) -> Room:
        return self._room(await self._request("GET", _path("rooms", ref)))

    async def delete_room(self, room: Room) -> None:
        await self._request("DELETE", _path("rooms", room.id))

    async def iter_rooms(self) -> AsyncIterator[Room]:
        async for item in self._pages("rooms"):
            yield self._room(item)

    async def iter_live_rooms(self) -> AsyncIterator[LiveRoom]:
        async for item in self._pages("rooms/live"):
            yield LiveRoom(room_id=str(item["id"]), participants=int(item.get("live_participants") or 0),
                           started_at=parse_time(item.get("start_time")))

    # -- sessions ------------------------------------------------------------------

    @staticmethod
    def _session(data: dict) -> Session:
        live = bool(data.get("live"))
        count = data.get("participants_live") if live else data.get("participants_total")
        return Session(
            id=str(data["id"]),
            room_id=data.get("room_id") or "",
            started_at=parse_time(data.get("start_time")),
            ended_at=parse_time(data.get("end_time")),
            live=live,
            participants=int(count or data.get("participants_total") or 0),
        )

    async def _first_session(self, room: Room, **filters) -> Session | None:
        body = await self._request("GET", _path("rooms", room.id, "sessions"),
                                   params={"limit": 1, "order": "desc", **filters})
        items = (body or {}).get("data") or []
        return self._session(items[0]) if items else None

    async def live_session(self, room: Room) -> Session | None:
        return await self._first_session(room, live="true")

    async def latest_session(self, room: Room) -> Session | None:
        return await self._first_session(room)

    async def iter_sessions(self, *, since: date, until: date) -> AsyncIterator[Session]:
        params = {"date_start": since.isoformat(), "date_end": until.isoformat(), "order": "asc"}
        async for item in self._pages("sessions", params):
            yield self._session(item)

    async def end_session(self, room: Room, session_id: str | None) -> None:
        if session_id is None:
            session = await self.live_session(room)
            if session is None:
                return
            session_id = session.id
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
            id=str(data["id"]),
            question=data.get("question") or "",
            status=data.get("status") or "",
            anonymous=bool(data.get("anonymous")),
            multiple=bool(data.get("multiple")),
            options=tuple(PollOption(o.get("id", ""), o.get("text", "")) for o in data.get("options") or ()),
        )

    async def create_poll(self, room: Room, *, question: str, type: PollType, anonymous: bool,
                          options: list[str]) -> Poll:
        body = {"question": question, "type": str(type), "anonymous": anonymous,
                "options": [{"text": text} for text in options]}
        return self._poll(await self._request("POST", _path("rooms", room.id, "polls"), json=body))

    async def iter_polls(self, room: Room) -> AsyncIterator[Poll]:
        async for item in self._pages(_path("rooms", room.id, "polls")):
            yield self._poll(item)

    async def poll_results(self, room: Room, poll_id: str) -> PollResults:
        body = await self._request("GET", _path("rooms", room.id, "polls", poll_id, "results"))
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
        return PollResults(poll_id=poll_id, question=question, total_votes=sum(o.votes for o in options),
                           options=options)

    # -- restreams -----------------------------------------------------------------

    async def start_restream(self, room: Room, target: RestreamTarget) -> RestreamStarted:
        if (target.type is None) == (target.server_url is None):
            raise ValueError("exactly one of type or server_url")
        body = {"stream_key": target.stream_key,
                **({"type": target.type} if target.type else {"server_url": target.server_url})}
        await self._request("POST", _path("rooms", room.id, "restreamers", "start"), json=body)
        return RestreamStarted(live=True)

    async def stop_restream(self, room: Room) -> None:
        await self._request("POST", _path("rooms", room.id, "restreamers", "stop"))

    # -- recordings and webhooks ---------------------------------------------------

    async def start_recording(self, room: Room) -> None:
        # The answer is text/plain ("HTTP/1.1 200 OK"), not JSON.
        await self._api.request("POST", _path("rooms", room.id, "recordings", "start"), raw=True)

    async def stop_recording(self, room: Room) -> None:
        await self._api.request("POST", _path("rooms", room.id, "recordings", "stop"), raw=True)

    async def recording_link(self, recording_id: str) -> str:
        body = await self._request("GET", _path("recordings", recording_id, "download"))
        return str((body or {}).get("link") or "")

    async def iter_recordings(self, room: Room) -> AsyncIterator[Recording]:
        """The room's recordings that can be downloaded (READY: one still recording or converting has no file
        yet), newest first. Their links expire, so each is asked for when handed out (`recording_link`)."""
        async for item in self._pages("recordings", {"room_id": room.id, "status": "READY", "order": "desc"}):
            yield Recording(id=str(item["id"]), room_id=str(item.get("room_id") or room.id),
                            created_at=parse_time(item.get("created_at")), name=str(item.get("name") or ""))

    def webhook_adapter(self):
        from bot.providers.digitalsamba.webhooks import DigitalSambaWebhooks

        return DigitalSambaWebhooks(self.webhook_token) if self.webhook_token else None

    async def create_webhook(self, *, endpoint: str, events: list[str], authorization_header: str, name: str) -> str:
        body = {"endpoint": endpoint, "events": events, "authorization_header": authorization_header, "name": name}
        return str((await self._request("POST", "webhooks", json=body))["id"])

    async def list_webhooks(self) -> list[WebhookRegistration]:
        return [WebhookRegistration(id=str(item.get("id")), url=str(item.get("endpoint") or ""),
                                    note=str(item.get("name") or ""))
                async for item in self._pages("webhooks")]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", _path("webhooks", webhook_id))

    async def register_webhook(self, url: str) -> WebhookRegistration:
        """Replace the webhook meetops registered before (same URL or name), with a fresh token shown once."""
        import secrets

        from bot.providers.digitalsamba.webhooks import EVENTS

        earlier = [hook.id for hook in await self.list_webhooks() if hook.url == url or hook.note == WEBHOOK_NAME]
        token = secrets.token_urlsafe(32)
        webhook_id = await self.create_webhook(endpoint=url, events=list(EVENTS), authorization_header=token,
                                               name=WEBHOOK_NAME)
        # Deleted only once the new one exists: a failed register leaves the old one working. Two would
        # deliver every event twice, one of them refused forever with the old token.
        for hook_id in earlier:
            await self.delete_webhook(hook_id)
        self.webhook_token = token  # this client now accepts the deliveries it asked for
        replaced = f" It replaces the webhook meetops registered before ({', '.join(earlier)})." if earlier else ""
        return WebhookRegistration(id=webhook_id, url=url, secret=token, secret_setting="DS_WEBHOOK_TOKEN",
                                   note=f"Subscribed to {', '.join(EVENTS)}.{replaced}")

    # -- join links ----------------------------------------------------------------

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        """A JWT signed locally: no call to Digital Samba, bound to this person's name and role."""
        now = int(time.time())
        claims = {
            "td": self._team_id,
            "rd": room.id,
            "ud": person.external_id,
            "u": person.name,
            "avatar": person.avatar,
            "role": str(person.role),
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime.total_seconds()),
        }
        # Digital Samba reads a missing claim as "not given"; a null is not the same thing.
        token = jwt.encode({k: v for k, v in claims.items() if v not in (None, "")}, self._signing_key,
                           algorithm="HS256")
        separator = "&" if "?" in room.room_url else "?"
        return JoinGrant(url=f"{room.room_url}{separator}token={token}",
                         expires_at=datetime.now(timezone.utc) + lifetime, identity_bound=True)
