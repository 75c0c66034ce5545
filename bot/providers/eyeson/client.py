"""Eyeson REST client: the only module that knows Eyeson's paths and fields.

Eyeson's model differs from a room platform's: a *meeting* exists only while someone is in it, and
`POST /rooms` both starts one (or joins the running one with the same room `id`) and registers one
user in it, answering that user's personal link and *access key*. So:

- a meetops room is an Eyeson room id meetops chooses (stable, unique per Slack team): creating one
  calls nothing; the meeting starts with the first Join;
- every Join is one `POST /rooms` (form-encoded `user[name]=…`) whose `links.gui` goes to that person;
- in-meeting actions (restream, recording, snapshot) are addressed by an access key in the path. The bot
  gets its own by joining the running meeting as a bot user. Such a key is a credential: it is kept in
  memory only, and requests carry an alias of it (`ak_…`) that a transport below httpx swaps for the
  real key on the wire, so no log line (ours, httpx's or the shared layer's) and no error text can
  contain it.

Auth is the raw API key in `Authorization` (no `Bearer`). Errors: 410 = the meeting is over, 405 = the
feature is disabled for the account or the meeting; the body is undocumented and read leniently.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_fixed

from bot.config import ConfigError
from bot.errors import (
    BadInput,
    ProviderAuthError,
    ProviderError,
    ProviderGone,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.logs import secret_filter
from bot.providers.base import (
    Capabilities,
    Capability,
    JoinGrant,
    LiveRoom,
    Person,
    Provider,
    Recording,
    RestreamStarted,
    RestreamTarget,
    Room,
    RoomSpec,
    Session,
    WebhookRegistration,
)
from bot.providers.http import (
    ErrorWords, ProviderHTTP, build_http_client, is_http_url, json_body, parse_time, probe_failure, tls_context,
)
from bot.providers.http import path as _path

ID_PREFIX = "meetops-"
BOT_USER_ID = "meetops-bot"
BOT_USER_NAME = "meetops"
WEBHOOK_TYPES = ("room_update", "recording_update")
RECORDINGS_PAGE = 25  # Eyeson's fixed page size for recordings and snapshots
JOIN_NOTE = "The link works as long as the meeting runs."
ONE_WEBHOOK_NOTE = ("Eyeson keeps one webhook per API key and replaces any other: an integration that had "
                    "registered one on this key no longer gets deliveries. Deliveries are signed with "
                    "EYESON_API_KEY, so there is nothing else to set.")

# RTMP servers of the preset destinations; Eyeson takes one `stream_url` = server URL + stream key.
STREAM_SERVERS = {
    "youtube": "rtmp://a.rtmp.youtube.com/live2",
    "vimeo": "rtmps://rtmp-global.cloud.vimeo.com:443/live",
    "cloudflare": "rtmps://live.cloudflare.com:443/live",
}

# Room flags a person may give to `/meet new` (`--no-recording`), as Eyeson meeting options.
ROOM_OPTIONS = {
    "no-recording": "nobody can record this room's meetings",
    "no-streaming": "nobody can stream this room's meetings live",
}
# What each option takes away from the room (its buttons go with it).
_OPTION_TAKES = {"no-recording": Capability.RECORDING, "no-streaming": Capability.RESTREAM}
_OPTION_FIELDS = {"no-recording": "options[recording_available]", "no-streaming": "options[broadcast_available]"}

# What an in-meeting path's last segment is about, for a 405 or 406 in words.
_FEATURES = {"broadcasts": "Streaming live", "recording": "Recording", "snapshot": "Taking snapshots",
             "lock": "Locking the meeting"}


# -- the API key and access keys -------------------------------------------------------------


class RawKeyAuth(httpx.Auth):
    """Eyeson's API key, sent as it is: `Authorization: <key>` (no `Bearer`)."""

    def __init__(self, api_key: str):
        self._key = api_key

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._key
        yield request

    def __repr__(self) -> str:  # never show the key, even in a debugger or a traceback
        return "RawKeyAuth(***)"


class AccessKeys:
    """The bot's access keys of running meetings (room id -> key), in memory only. Code above the
    transport sees an alias per key (`ak_` + random hex), never the key."""

    def __init__(self) -> None:
        self._alias_of: dict[str, str] = {}  # room id -> alias
        self._keys: dict[str, str] = {}      # alias -> access key

    def remember(self, room_id: str, key: str) -> str:
        self.forget(room_id)
        alias = "ak_" + secrets.token_hex(12)
        self._alias_of[room_id] = alias
        self._keys[alias] = key
        secret_filter.add(key)  # last line of defence; nothing should log it in the first place
        return alias

    def alias(self, room_id: str) -> str | None:
        return self._alias_of.get(room_id)

    def forget(self, room_id: str) -> None:
        alias = self._alias_of.pop(room_id, None)
        if alias is not None:
            self._keys.pop(alias, None)

    def secrets(self) -> Iterable[str]:
        return list(self._keys.values())

    def real_path(self, raw_path: str) -> str:
        """A request path with every alias segment replaced by its key (other segments untouched)."""
        if "ak_" not in raw_path:
            return raw_path
        path, sep, query = raw_path.partition("?")
        segments = [self._keys.get(segment, segment) for segment in path.split("/")]
        return "/".join(segments) + sep + query

    def __repr__(self) -> str:
        return f"AccessKeys({len(self._keys)} held)"


class AccessKeyTransport(httpx.AsyncBaseTransport):
    """Below httpx (and its request logging): puts the real access key where the path has its alias."""

    def __init__(self, inner: httpx.AsyncBaseTransport, keys: AccessKeys):
        self._inner = inner
        self._keys = keys

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode("ascii")
        real = self._keys.real_path(raw)
        if real != raw:
            request = httpx.Request(request.method, request.url.copy_with(raw_path=real.encode("ascii")),
                                    headers=request.headers, stream=request.stream, extensions=request.extensions)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- errors in words ----------------------------------------------------------------------------


def _scrub(text: str, secret_values: Iterable[str]) -> str:
    for value in sorted((s for s in secret_values if s), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _body_message(response: httpx.Response) -> str:
    """Eyeson's error body is undocumented: a short `error` or `message` string if there is one,
    never a raw body (it may be HTML, or echo what was sent)."""
    body = json_body(response)
    for name in ("error", "message"):
        value = body.get(name)
        if isinstance(value, str) and value.strip() and "{" not in value:
            return value.strip()[:200]
    return ""


def _feature(response: httpx.Response) -> str:
    last = response.request.url.path.rstrip("/").rsplit("/", 1)[-1]
    return _FEATURES.get(last, "That feature")


def _rejected(response: httpx.Response, message: str) -> ProviderError | None:
    status = response.status_code
    if status == 410:
        return ProviderGone("The meeting is over (Eyeson ends a meeting when its last person leaves). "
                            "Join the room to start a new one.", status=status)
    if status == 405:
        return ProviderRejected(f"{_feature(response)} is disabled for this Eyeson account or this room, so "
                                "meetops can't do it here. An Eyeson admin can enable it.", status=status)
    if status == 406:
        already = {"Streaming live": "This meeting is already streaming live (Eyeson streams to one "
                                     "destination at a time). Stop that stream first.",
                   "Recording": "This meeting is already being recorded."}.get(_feature(response))
        return ProviderRejected(already or f"Eyeson did not accept that{': ' + message if message else '.'}",
                                status=status)
    if status == 423:
        return ProviderRejected("That meeting is locked: nobody new can join it.", status=status)
    if status == 404:
        return ProviderNotFound("Eyeson doesn't know that (the meeting may have ended, or the item was deleted).",
                                status=status)
    return None


# -- mapping ------------------------------------------------------------------------------------


def room_id_for(spec: RoomSpec) -> str:
    """The Eyeson room id meetops chooses: stable for the same name in the same Slack team, distinct
    across teams sharing one API key (`external_id` is `slack:<team>:<channel>`)."""
    parts = spec.external_id.split(":")
    team = parts[1] if len(parts) >= 3 else spec.external_id
    tag = hashlib.sha256(team.encode()).hexdigest()[:8]
    return f"{ID_PREFIX}{tag}-{spec.slug}"


def _slug_of(room_id: str) -> str:
    if room_id.startswith(ID_PREFIX):
        rest = room_id[len(ID_PREFIX):]
        tag, _, slug = rest.partition("-")
        if len(tag) == 8 and slug:
            return slug
    return room_id


def session_id(room_id: str, started_at: datetime | None) -> str:
    """A meeting run of a room (Eyeson has no session object): the room id and when it started."""
    return f"{room_id}@{int(started_at.timestamp()) if started_at else 'live'}"


def _info_room(item: Mapping[str, Any]) -> Room:
    """A running meeting from `GET /rooms` (`{id, name, ready, started_at, shutdown, guest_token}`)."""
    room_id = str(item["id"])
    return Room(id=room_id, friendly_url=_slug_of(room_id), description=str(item.get("name") or "") or None,
                privacy="public" if item.get("guest_token") else "private", room_url="",
                extra={"name": str(item.get("name") or "")})


def _is_private(room: Room) -> bool:
    return bool(room.extra.get("private")) if "private" in room.extra else room.privacy == "private"


def stream_url(target: RestreamTarget) -> str:
    """The RTMP URL Eyeson streams to: the destination's server URL with the stream key appended (a
    secret, like the key itself)."""
    server = STREAM_SERVERS.get(target.type or "") if target.type else target.server_url
    if not server:
        raise BadInput(f"I don't know the streaming server for {target.label}. Choose a custom RTMP server instead.")
    key = (target.stream_key or "").strip()
    if not key:
        raise BadInput("A stream key is needed to go live.")
    return server.rstrip("/") + "/" + key


# -- the client -----------------------------------------------------------------------------------


def build_http(base_url: str, api_key: str, keys: AccessKeys, *, timeout: float = 10.0,
               transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    inner = transport or AiohttpTransport(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                                         verify=tls_context())
    return build_http_client(base_url, auth=RawKeyAuth(api_key), timeout=timeout,
                             transport=AccessKeyTransport(inner, keys))


class EyesonClient(Provider):
    """The Eyeson provider."""

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, keys: AccessKeys, attempts: int = 3):
        from bot.providers.eyeson import PLUGIN

        self.plugin = PLUGIN
        self._http = http
        self._api_key = api_key
        self._keys = keys
        self._stream_keys: set[str] = set()  # of streams being started right now, to scrub from errors
        self._key_locks: dict[str, asyncio.Lock] = {}
        secret_filter.add(api_key)
        words = ErrorWords(title="Eyeson", settings="EYESON_API_KEY",
                           message=lambda response: _scrub(_body_message(response), self._secret_values()),
                           rejected=_rejected)
        self._api = ProviderHTTP(http, words, attempts=attempts)

    def __repr__(self) -> str:
        return f"EyesonClient(base_url={str(self._http.base_url)!r})"

    def _secret_values(self) -> list[str]:
        return [self._api_key, *self._keys.secrets(), *self._stream_keys]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, url: str, *, params: dict | None = None,
                       data: dict | None = None) -> Any:
        return await self._api.request(method, url, params=params, data=data)

    def capabilities_of(self, room: Room) -> Capabilities:
        taken = {_OPTION_TAKES[o]: f"it was made with --{o}, so {ROOM_OPTIONS[o]}."
                 for o in (room.extra or {}).get("options") or () if o in _OPTION_TAKES}
        if not taken:
            return self.capabilities
        return Capabilities.of(self.capabilities.supported - set(taken), {**self.capabilities.missing, **taken})

    async def check(self) -> None:
        """One cheap authenticated read (the running meetings), so a wrong key or URL is said at start-up.
        Worded for whoever runs the bot, the setting first; the caller says what it was doing."""
        base = str(self._http.base_url).rstrip("/")
        if not is_http_url(base):
            raise ConfigError(f"EYESON_API_URL: {base!r} is not an http(s) URL; it should look like "
                              "https://api.eyeson.team.")
        try:
            body = await self._request("GET", "rooms")
        except ProviderAuthError:
            raise ConfigError("EYESON_API_KEY: Eyeson refused the key. Copy the API key from your Eyeson account "
                              "again.") from None
        except ProviderNotFound:
            raise ConfigError(f"EYESON_API_URL: {base} answers 404 for /rooms. It should be the API's address, "
                              "e.g. https://api.eyeson.team.") from None
        except ProviderError as exc:
            raise probe_failure("EYESON_API_URL", "Eyeson", base, exc) from None
        if not isinstance(body, list):
            raise ConfigError(f"EYESON_API_URL: {base} does not look like the Eyeson API, e.g. "
                              "https://api.eyeson.team.")

    # -- rooms ---------------------------------------------------------------------

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str = "") -> Room:
        """No API call: Eyeson has no idle rooms. The room id is chosen here; the meeting starts with the
        first Join (`issue_join`), which reads the name, privacy and options kept in `extra`."""
        room_id = room_id_for(spec)
        options = sorted(o for o in spec.options if o in ROOM_OPTIONS)
        return Room(id=room_id, friendly_url=spec.slug, description=spec.description,
                    privacy="private" if spec.private else "public", room_url="",
                    extra={"name": spec.name, "private": spec.private, "options": options})

    async def _running(self) -> list[dict]:
        body = await self._request("GET", "rooms")
        items = body if isinstance(body, list) else []
        return [item for item in items if isinstance(item, dict) and item.get("id") and not item.get("shutdown")]

    async def _running_one(self, room_id: str) -> dict | None:
        return next((item for item in await self._running() if str(item["id"]) == room_id), None)

    async def get_room(self, ref: str) -> Room:
        """A room id meetops chose is always a room (an idle one is known only to meetops, and Eyeson
        starts its meeting on the first Join); any other id only while a meeting runs in it."""
        running = await self._running_one(ref)
        if running is not None:
            return _info_room(running)
        if ref.startswith(ID_PREFIX) and _slug_of(ref) != ref:
            return Room(id=ref, friendly_url=_slug_of(ref), description=None, privacy="public", room_url="")
        raise ProviderNotFound("Eyeson has no meeting running in a room by that name.")

    async def iter_rooms(self) -> AsyncIterator[Room]:
        # Eyeson lists running meetings only: idle rooms are known only to meetops (its own rooms table).
        for item in await self._running():
            yield _info_room(item)

    async def _online(self, room_id: str) -> int | None:
        """How many people are in the meeting; None when it ended since it was listed."""
        try:
            body = await self._request("GET", _path("rooms", room_id, "users"), params={"online": "true"})
        except (ProviderNotFound, ProviderGone):
            return None
        users = body if isinstance(body, list) else []
        # Users registered but not (or no longer) in the meeting, the bot's own among them, don't count.
        return sum(1 for user in users if isinstance(user, dict) and user.get("online", True) is not False)

    async def iter_live_rooms(self) -> AsyncIterator[LiveRoom]:
        for item in await self._running():
            room_id = str(item["id"])
            count = await self._online(room_id)
            if count is not None:
                yield LiveRoom(room_id=room_id, participants=count, started_at=parse_time(item.get("started_at")))

    async def live_session(self, room: Room) -> Session | None:
        item = await self._running_one(room.id)
        if item is None:
            return None
        started = parse_time(item.get("started_at"))
        count = await self._online(room.id)
        if count is None:
            return None
        return Session(id=session_id(room.id, started), room_id=room.id, started_at=started, ended_at=None,
                       live=True, participants=count)

    async def end_session(self, room: Room, session_id: str | None) -> None:
        """Ends the running meeting for everyone; nothing running is nothing to end."""
        self._keys.forget(room.id)
        try:
            await self._request("DELETE", _path("rooms", room.id))
        except (ProviderNotFound, ProviderGone):
            return

    # -- join links ----------------------------------------------------------------

    def _join_form(self, room: Room, user_id: str, user_name: str, avatar: str | None) -> dict[str, str]:
        form = {"id": room.id, "name": str(room.extra.get("name") or room.description or room.friendly_url),
                "user[id]": user_id, "user[name]": user_name}
        if avatar:
            form["user[avatar]"] = avatar
        if _is_private(room):
            # Only personal links get in: no guest link for the meeting.
            form["options[guest_token_available]"] = "false"
        for option in room.extra.get("options") or ():
            if option in _OPTION_FIELDS:
                form[_OPTION_FIELDS[option]] = "false"
        return form

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        """One `POST /rooms` for this person: starts the meeting or joins the running one. The link is
        theirs alone and lives as long as the meeting (Eyeson sets no other expiry)."""
        form = self._join_form(room, person.external_id, person.name or person.slack_user_id, person.avatar)
        body = await self._request("POST", "rooms", data=form)
        url = ((body or {}).get("links") or {}).get("gui") if isinstance(body, dict) else None
        if not url:
            raise ProviderUnavailable("Eyeson sent an answer without a meeting link. Please try again.")
        return JoinGrant(url=str(url), expires_at=None, identity_bound=True, note=JOIN_NOTE)

    # -- in-meeting actions (by the bot's access key) ---------------------------------

    async def _bot_key(self, room: Room) -> str:
        """The alias of the bot's access key for the room's running meeting, joining it if need be.
        Never starts a meeting: `POST /rooms` would start one if none ran, so it checks first."""
        lock = self._key_locks.setdefault(room.id, asyncio.Lock())
        async with lock:
            alias = self._keys.alias(room.id)
            if alias is not None:
                return alias
            if await self._running_one(room.id) is None:
                raise ProviderGone("There is no meeting running in this room right now (Eyeson meetings end "
                                   "when the last person leaves). Join it first, then try again.")
            body = await self._request("POST", "rooms", data=self._join_form(room, BOT_USER_ID, BOT_USER_NAME, None))
            key = body.get("access_key") if isinstance(body, dict) else None
            if not key:
                raise ProviderUnavailable("Eyeson sent an answer I can't read. Please try again.")
            return self._keys.remember(room.id, str(key))

    async def _in_meeting(self, room: Room, method: str, tail: str, data: dict | None = None) -> Any:
        """`method /rooms/<access key>/<tail>`. A key of a meeting that has ended answers 410: it is
        forgotten, and if a new meeting runs in the room by now, the action goes to that one instead."""
        had_key = self._keys.alias(room.id) is not None
        try:
            return await self._request(method, f"rooms/{await self._bot_key(room)}/{tail}", data=data)
        except ProviderGone:
            self._keys.forget(room.id)
            if not had_key:
                raise
        try:
            return await self._request(method, f"rooms/{await self._bot_key(room)}/{tail}", data=data)
        except ProviderGone:
            self._keys.forget(room.id)
            raise

    async def start_restream(self, room: Room, target: RestreamTarget) -> RestreamStarted:
        url = stream_url(target)
        key = target.stream_key.strip()
        form = {"stream_url": url, **({"player_url": target.public_url} if target.public_url else {})}
        self._stream_keys.add(key)
        try:
            await self._in_meeting(room, "POST", "broadcasts", form)
        finally:
            self._stream_keys.discard(key)
        return RestreamStarted(live=True)

    async def stop_restream(self, room: Room) -> None:
        await self._in_meeting(room, "DELETE", "broadcasts")

    async def start_recording(self, room: Room) -> None:
        await self._in_meeting(room, "POST", "recording")

    async def stop_recording(self, room: Room) -> None:
        await self._in_meeting(room, "DELETE", "recording")

    async def recording_link(self, recording_id: str) -> str:
        """A fresh download link (Eyeson's links expire, so never a stored one)."""
        body = await self._request("GET", _path("recordings", recording_id))
        link = ((body or {}).get("links") or {}).get("download") if isinstance(body, dict) else None
        if not link:
            raise ProviderRejected("That recording isn't ready yet. Please try again in a minute.")
        return str(link)

    async def iter_recordings(self, room: Room) -> AsyncIterator[Recording]:
        page = 1
        while True:
            body = await self._request("GET", _path("rooms", room.id, "recordings"), params={"page": page})
            items = [item for item in (body if isinstance(body, list) else []) if isinstance(item, dict)]
            for item in items:
                yield Recording(id=str(item.get("id") or ""), room_id=room.id, created_at=parse_time(item.get("created_at")),
                                url=((item.get("links") or {}).get("download") or None))
            if len(items) < RECORDINGS_PAGE:
                return
            page += 1

    async def _snapshots(self, room: Room) -> list[dict]:
        """Every snapshot of the room (Eyeson pages them 25 at a time)."""
        found, page = [], 1
        while True:
            body = await self._request("GET", _path("rooms", room.id, "snapshots"), params={"page": page})
            items = [item for item in (body if isinstance(body, list) else []) if isinstance(item, dict)]
            found += [item for item in items if item.get("id")]
            if len(items) < RECORDINGS_PAGE:
                return found
            page += 1

    async def snapshot(self, room: Room) -> str:
        """Takes a snapshot and returns its link. Eyeson answers the POST without the snapshot, so the
        new one is the snapshot of the room that wasn't there before (it may take a moment to appear)."""
        before = {str(item["id"]) for item in await self._snapshots(room)}
        answer = await self._in_meeting(room, "POST", "snapshot")
        link = ((answer or {}).get("links") or {}).get("download") if isinstance(answer, dict) else None
        if link:
            return str(link)

        async def fresh() -> list[dict]:
            return [item for item in await self._snapshots(room) if str(item["id"]) not in before]

        waiting = AsyncRetrying(stop=stop_after_attempt(4), wait=wait_fixed(0.5),
                                retry=retry_if_result(lambda items: not items),
                                retry_error_callback=lambda state: state.outcome.result())
        new = await waiting(fresh)
        links = [((item.get("links") or {}).get("download")) for item in
                 sorted(new, key=lambda item: str(item.get("created_at") or ""), reverse=True)]
        link = next((str(link) for link in links if link), None)
        if link is None:
            raise ProviderUnavailable("Eyeson took the snapshot but has no link for it yet. Please try again "
                                      "in a minute.")
        return link

    # -- webhooks -----------------------------------------------------------------

    def webhook_adapter(self):
        """Deliveries are signed with the API key; without one nothing could be verified, so none is taken."""
        from bot.providers.eyeson.webhooks import EyesonWebhooks

        return EyesonWebhooks(self._api_key) if self._api_key else None

    async def register_webhook(self, url: str) -> WebhookRegistration:
        """Eyeson keeps one webhook per API key: registering replaces whatever was registered before."""
        await self._request("POST", "webhooks", data={"url": url, "types": ",".join(WEBHOOK_TYPES)})
        registered = next((hook for hook in await self.list_webhooks() if hook.url == url), None)
        return WebhookRegistration(id=registered.id if registered else "", url=url, note=ONE_WEBHOOK_NOTE)

    async def list_webhooks(self) -> list[WebhookRegistration]:
        try:
            body = await self._request("GET", "webhooks")
        except ProviderNotFound:
            return []
        items = body if isinstance(body, list) else [body] if isinstance(body, dict) and body else []
        return [WebhookRegistration(id=str(item.get("id") or ""), url=str(item.get("url") or ""),
                                    note=f"types: {item.get('types') or ''}".strip())
                for item in items if isinstance(item, dict) and item.get("id")]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", _path("webhooks", webhook_id))


