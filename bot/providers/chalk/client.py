"""Chalk REST client (the legacy `/api/v1` participants API of seed 003, as its code answers): the only
module that knows Chalk's paths and fields.

Chalk gives each person tokens, not a link: meetops fills the deployment's own meeting page
(CHALK_JOIN_URL) with the room, the person's `access_token` and their name. A Chalk room is the meeting
itself: it is `active` from creation until it is ended, and then it stays `ended`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator
from urllib.parse import quote

import httpx

from bot.config import ConfigError
from bot.errors import (
    MeetopsError,
    NameTaken,
    ProviderAuthError,
    ProviderError,
    ProviderGone,
    ProviderNotFound,
    ProviderRejected,
)
from bot.providers.base import (
    Invited,
    JoinGrant,
    LiveRoom,
    Person,
    Provider,
    Recording,
    Role,
    Room,
    RoomSpec,
    Session,
    Summary,
    SummaryStatus,
    WebhookRegistration,
)
from bot.providers.chalk.auth import ChalkAuth
from bot.providers.http import (
    ErrorWords, ProviderHTTP, build_http_client, is_http_url, json_body, parse_time, probe_failure,
)
from bot.providers.http import path as _path

PAGE_SIZE = 100
ALL_STATUSES = "scheduled,active,ended"
TOKEN_LIFETIME = timedelta(hours=1)  # Chalk's participant tokens (JWT_EXPIRY_MINUTES default)
BULK_MAX = 50
NO_SUMMARY = ("Chalk makes a summary from a meeting's recording, with the tenant's post-meeting transcription and "
              "AI switched on, and this meeting's recording has none. Ask your Chalk admin to turn summaries on.")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# -- errors in words -----------------------------------------------------------------------

def error_message(response: httpx.Response) -> str:
    """Chalk's reason: `{"error": "<message>"}` (its code), `{"error": {"code", "message"}}` (its docs)."""
    body = json_body(response)
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    return str(error or body.get("message") or "")[:300]


# Chalk's own sentences -> (error class, what a person reads). Matched on the lower-cased message.
_PHRASES: list[tuple[str, type[ProviderError], str]] = [
    ("room is full", ProviderRejected,
     "The room is full: it already has as many people as it lets in. A moderator can remove someone "
     "with `/meet kick`, or start a bigger room."),
    ("room is not active", ProviderGone,
     "This meeting has ended on Chalk, so nobody can join it or change it any more. Start a new room with "
     "`/meet new &lt;name&gt;`."),
    ("already recording", ProviderRejected, "A recording is already running in this room."),
    ("no active participants", ProviderRejected,
     "Nobody is in the meeting yet, so there is nothing to record. Start the recording once people have joined."),
    ("not recording", ProviderRejected, "No recording is running in this room, so there is nothing to stop."),
    ("no active recording", ProviderRejected, "No recording is running in this room, so there is nothing to stop."),
    ("recording is disabled", ProviderRejected, "Recording is switched off for this room."),
    ("recording not enabled", ProviderRejected, "Recording is switched off for this room."),
    ("participant not found", ProviderNotFound, "That person is not in the room any more."),
    ("room not found", ProviderNotFound, "Chalk no longer has this room (it may have been deleted there)."),
    ("recording not found", ProviderNotFound, "Chalk no longer has that recording."),
    ("display_name is required", ProviderRejected, "Chalk needs a name for everyone it lets in, and this person has none."),
]


def in_words(message: str, status: int | None = None) -> ProviderError | None:
    """The domain error for one of Chalk's known sentences, or None."""
    text = (message or "").strip().lower()
    for phrase, kind, words in _PHRASES:
        if phrase in text:
            return kind(words, status=status)
    return None


def _rejected(response: httpx.Response, message: str) -> ProviderError | None:
    known = in_words(message, response.status_code)
    if known is not None:
        return known
    if response.status_code == 404:
        return ProviderNotFound("Chalk doesn't know that room or person.", status=404)
    if response.status_code == 409:
        return ProviderRejected(f"Chalk says that conflicts with what is happening in the room"
                                f"{': ' + message if message else ''}.", status=409)
    return None


def problem_in_words(message: str) -> str:
    """A per-person failure (a bulk entry's `error`) as a sentence."""
    known = in_words(message)
    if known is not None:
        return known.user_message
    return f"Chalk refused: {message}." if message else "Chalk refused, without saying why."


WORDS = ErrorWords(title="Chalk", settings="CHALK_API_KEY", message=error_message, rejected=_rejected)


def build_http(api_url: str, api_key: str, *, timeout: float = 10.0,
               transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return build_http_client(api_url, auth=ChalkAuth(api_key, api_url), timeout=timeout, transport=transport)


def fill_join_url(template: str, *, room: str, token: str, name: str) -> str:
    """CHALK_JOIN_URL with the room, the token and the name, each percent-encoded."""
    return template.format(room=quote(room, safe=""), token=quote(token, safe=""), name=quote(name, safe=""))


class ChalkClient(Provider):
    """The Chalk provider."""

    no_summary_reason = NO_SUMMARY
    rooms_reopen = False  # a Chalk room is the meeting: `ended` for good once ended
    counts_links = True  # Chalk counts tokens issued and not yet left, opened or not

    def __init__(self, http: httpx.AsyncClient, *, join_url: str, webhook_secret: str | None = None,
                 max_participants: int = 100, recording_enabled: bool = True, chat_enabled: bool = True,
                 attempts: int = 3, clock=lambda: datetime.now(timezone.utc)):
        from bot.providers.chalk import PLUGIN

        self.plugin = PLUGIN
        self._http = http
        self._api = ProviderHTTP(http, WORDS, attempts=attempts)
        self._join_url = join_url
        self._webhook_secret = webhook_secret
        self._room_config = {"max_participants": max_participants, "recording_enabled": recording_enabled,
                             "chat_enabled": chat_enabled}
        self._now = clock
        self._webhooks = None

    def __repr__(self) -> str:
        return f"ChalkClient(base_url={str(self._http.base_url)!r})"

    @property
    def auth(self) -> ChalkAuth:
        return self._http.auth  # type: ignore[return-value]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, url: str, **kwargs) -> Any:
        return await self._api.request(method, url, **kwargs)

    async def check(self) -> None:
        """The key exchange and one cheap read, so a wrong URL or key is said at start-up. Worded for whoever
        runs the bot, the setting first; the caller says what it was doing."""
        base = str(self._http.base_url).rstrip("/")
        if not is_http_url(base):
            raise ConfigError(f"CHALK_API_URL: {base!r} is not an http(s) URL; it should be your Chalk API, "
                              "ending in /api/v1.")
        try:
            body = await self._request("GET", "rooms", params={"limit": 1, "offset": 0, "status": "active"})
        except ProviderAuthError:
            raise ConfigError("CHALK_API_KEY: Chalk refused the key (the exchange for a tenant token at POST "
                              "/auth/token failed). Use a current ck_live_… or ck_test_… key of your tenant.") from None
        except ProviderNotFound:
            raise ConfigError(f"CHALK_API_URL: {base} answers 404. It should be your Chalk API ending in "
                              "/api/v1.") from None
        except ProviderError as exc:
            raise probe_failure("CHALK_API_URL", "Chalk", base, exc) from None
        if not isinstance(body, dict) or "rooms" not in body:
            raise ConfigError(f"CHALK_API_URL: {base} does not look like the Chalk API. It should end in /api/v1.")

    # -- rooms ---------------------------------------------------------------------

    @staticmethod
    def _room(data: Any, *, private: bool | None = None) -> Room:
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderNotFound("Chalk has no room by that name.")
        name = str(data.get("name") or data["id"])
        # Every Chalk room is private to holders of a token; "public" is meetops' own promise that anyone
        # in the channel may ask for one.
        return Room(id=str(data["id"]), friendly_url=name, description=None,
                    privacy="private" if private else "public", room_url="",
                    extra={"status": str(data.get("status") or "")})

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str = "") -> Room:
        body = {"name": spec.slug, "config": dict(self._room_config)}
        try:
            data = await self._request("POST", "rooms", json=body)
        except ProviderRejected as exc:
            if exc.status == 409:  # the tenant has a room by that name (made elsewhere, or a moment ago)
                raise NameTaken(spec.slug) from None
            raise
        room = self._room(data, private=spec.private)
        return Room(id=room.id, friendly_url=room.friendly_url, description=spec.description,
                    privacy=room.privacy, room_url="", extra=room.extra)

    async def get_room(self, ref: str) -> Room:
        ref = (ref or "").strip()
        if _UUID.match(ref):
            return self._room(await self._request("GET", _path("rooms", ref)))
        async for room in self.iter_rooms():
            if room.friendly_url == ref:
                return room
        raise ProviderNotFound("Chalk has no room by that name.")

    async def _room_pages(self, status: str) -> AsyncIterator[dict]:
        async for item in self._api.offset_pages(
                "rooms", {"status": status}, limit=PAGE_SIZE,
                items=lambda body: [r for r in ((body or {}).get("rooms") or []) if isinstance(r, dict)],
                total=lambda body: _int((body or {}).get("total"))):
            yield item

    async def iter_rooms(self) -> AsyncIterator[Room]:
        async for item in self._room_pages(ALL_STATUSES):
            yield self._room(item)

    async def delete_room(self, room: Room) -> None:
        await self._request("DELETE", _path("rooms", room.id))

    # -- live, end -----------------------------------------------------------------

    async def iter_live_rooms(self) -> AsyncIterator[LiveRoom]:
        """Active rooms with someone in them. Chalk counts a participant from the moment their token is
        issued until they leave, so a person who got a link but has not opened it counts too."""
        async for item in self._room_pages("active"):
            count = _int(item.get("active_participant_count", item.get("participant_count"))) or 0
            if count > 0 and item.get("id"):
                yield LiveRoom(room_id=str(item["id"]), participants=count,
                               started_at=parse_time(item.get("started_at")))

    async def live_session(self, room: Room) -> Session | None:
        body = await self._request("GET", _path("rooms", room.id, "participants"), params={"active": "true"})
        people = [p for p in ((body or {}).get("participants") or []) if isinstance(p, dict)]
        if not people:
            return None
        started = min((t for t in (parse_time(p.get("joined_at") or p.get("created_at")) for p in people) if t),
                      default=None)
        return Session(id=room.id, room_id=room.id, started_at=started, ended_at=None, live=True,
                       participants=len(people))

    async def end_session(self, room: Room, session_id: str | None) -> None:
        """A Chalk room is its meeting: ending it ends the room for good."""
        await self._request("POST", _path("rooms", room.id, "end"))

    # -- people --------------------------------------------------------------------

    @staticmethod
    def _participant_body(person: Person) -> dict:
        return {"display_name": (person.name or "").strip() or "Guest",
                "external_user_id": person.external_id,
                "role": "host" if person.role == Role.MODERATOR else "participant"}

    def _grant(self, room: Room, person: Person, *, participant_id: str, access_token: str,
               lifetime: timedelta) -> JoinGrant:
        now = self._now()
        url = fill_join_url(self._join_url, room=room.id, token=access_token,
                            name=(person.name or "").strip() or "Guest")
        return JoinGrant(url=url, expires_at=now + lifetime, identity_bound=True,
                         note="When it runs out, click *Join* again for a fresh one.",
                         handle={"participant_id": participant_id, "role": str(person.role),
                                 "issued_at": now.isoformat()})

    def _reusable(self, previous: Mapping[str, Any] | None, person: Person) -> str | None:
        """The participant to give a fresh token: the same person's in this room, made within the hour
        and with the same role."""
        if not previous or not previous.get("participant_id") or previous.get("role") != str(person.role):
            return None
        issued = parse_time(previous.get("issued_at"))
        if issued is None or self._now() - issued > TOKEN_LIFETIME:
            return None
        return str(previous["participant_id"])

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        """Adds the person as a participant (or refreshes their token when they were added within the
        hour) and fills the meeting page's template with their token. Chalk decides the lifetime (an
        hour); `lifetime` cannot lengthen it."""
        participant_id = self._reusable(previous, person)
        if participant_id is not None:
            try:
                body = await self._request("POST", _path("rooms", room.id, "participants", participant_id, "token"))
            except ProviderNotFound:
                participant_id = None  # removed since: add them again
            else:
                return self._grant(room, person, participant_id=participant_id,
                                   access_token=_token(body), lifetime=_expires_in(body))
        body = await self._request("POST", _path("rooms", room.id, "participants"), json=self._participant_body(person))
        participant = (body or {}).get("participant") if isinstance(body, dict) else None
        if not isinstance(participant, dict) or not participant.get("id"):
            raise ProviderRejected("Chalk added the person but sent no participant back. Please try again.")
        return self._grant(room, person, participant_id=str(participant["id"]), access_token=_token(body),
                           lifetime=_expires_in(body))

    async def invite(self, room: Room, people: list[Person], *, lifetime: timedelta) -> list[Invited]:
        """One bulk call for everyone (at most 50 per call); each entry succeeds or fails on its own."""
        results: list[Invited] = []
        for start in range(0, len(people), BULK_MAX):
            batch = people[start:start + BULK_MAX]
            body = await self._request("POST", _path("rooms", room.id, "participants", "bulk"),
                                       json={"participants": [self._participant_body(p) for p in batch]})
            entries = [e for e in ((body or {}).get("results") or []) if isinstance(e, dict)]
            by_user = {str(e.get("external_user_id")): e for e in entries if e.get("external_user_id")}
            for index, person in enumerate(batch):
                entry = by_user.get(person.external_id) or (entries[index] if index < len(entries) else None)
                if entry is None:
                    results.append(Invited(person, problem="Chalk did not answer for this person."))
                elif entry.get("success") is True and entry.get("access_token") and entry.get("participant_id"):
                    results.append(Invited(person, grant=self._grant(
                        room, person, participant_id=str(entry["participant_id"]),
                        access_token=str(entry["access_token"]), lifetime=TOKEN_LIFETIME)))
                else:
                    results.append(Invited(person, problem=problem_in_words(str(entry.get("error") or ""))))
        return results

    async def remove_participant(self, room: Room, handle: Mapping[str, Any]) -> None:
        participant_id = str((handle or {}).get("participant_id") or "")
        if not participant_id:
            raise MeetopsError("I have no record of that person joining this room from Slack, so I can't "
                               "remove them.")
        await self._request("DELETE", _path("rooms", room.id, "participants", participant_id))

    # -- recordings ----------------------------------------------------------------

    async def start_recording(self, room: Room) -> None:
        await self._request("POST", _path("rooms", room.id, "recordings", "start"))

    async def stop_recording(self, room: Room) -> None:
        await self._request("POST", _path("rooms", room.id, "recordings", "stop"))

    async def recording_link(self, recording_id: str) -> str:
        body = await self._request("GET", _path("recordings", recording_id, "download")) or {}
        url = body.get("download_url") if isinstance(body, dict) else None
        if not url:
            raise ProviderRejected("The recording is still being processed. Please try again in a few minutes.")
        return str(url)

    async def iter_recordings(self, room: Room) -> AsyncIterator[Recording]:
        async for item in self._api.offset_pages(
                "recordings", limit=PAGE_SIZE,
                items=lambda body: [r for r in ((body or {}).get("recordings") or (body or {}).get("data") or [])
                                    if isinstance(r, dict)]):
            if str(item.get("room_id") or "") == room.id and item.get("id"):
                yield Recording(id=str(item["id"]), room_id=room.id, created_at=parse_time(item.get("created_at")))

    async def get_summary(self, session_id: str) -> Summary:
        """The AI summary of a room's latest recording (Chalk makes one per recording, when the tenant's
        post-meeting transcription and AI are set up; it also arrives with the recording webhook)."""
        room = Room(id=session_id, friendly_url=session_id, description=None, privacy="", room_url="")
        latest = None
        async for recording in self.iter_recordings(room):
            if latest is None or (recording.created_at or datetime.min.replace(tzinfo=timezone.utc)) >= (
                    latest.created_at or datetime.min.replace(tzinfo=timezone.utc)):
                latest = recording
        if latest is None:
            # Not recorded, or its recording not processed yet: the summary comes with the recording's webhook,
            # so this is not a "none". (meetops stops waiting after MEETOPS_SUMMARY_MAX_WAIT_MINUTES and says so.)
            return Summary(SummaryStatus.IN_PROGRESS)
        try:
            body = await self._request("GET", _path("recordings", latest.id, "transcript")) or {}
        except ProviderNotFound:
            return Summary(SummaryStatus.NO_TRANSCRIPT, NO_SUMMARY)  # transcription is off for this tenant
        status = str(body.get("status") or "").lower() if isinstance(body, dict) else ""
        if status in ("failed", "error"):
            return Summary(SummaryStatus.NO_TRANSCRIPT, NO_SUMMARY)
        if status not in ("completed", "complete", "ready", "done") or not body.get("summary"):
            return Summary(SummaryStatus.IN_PROGRESS)
        from bot.providers.chalk.webhooks import _item_text

        items = [t for t in (_item_text(i) for i in (body.get("action_items") or [])[:50]) if t]
        text = str(body["summary"]).strip()
        if items:
            text += "\n\n*Action items*\n" + "\n".join(f"• {item}" for item in items)
        return Summary(SummaryStatus.READY, text)

    # -- webhooks ------------------------------------------------------------------

    def webhook_adapter(self):
        from bot.providers.chalk.webhooks import ChalkWebhooks

        if not self._webhook_secret:
            return None
        if self._webhooks is None:  # one replay cache per process
            self._webhooks = ChalkWebhooks(self._webhook_secret)
        return self._webhooks

    async def _tenant_id(self) -> str:
        """The tenant the key belongs to: a claim of the tenant token (read, not verified: Chalk checks it)."""
        import jwt

        await self._request("GET", "rooms", params={"limit": 1, "offset": 0})  # makes sure a token is held
        token = self.auth.current_token
        try:
            claims = jwt.decode(token or "", options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        tenant = claims.get("tenant_id") or claims.get("tid") or claims.get("tenant")
        if not tenant:
            raise MeetopsError("I can't tell which Chalk tenant CHALK_API_KEY belongs to, so I can't set its "
                               "webhook. Set the tenant's post_meeting_webhook by hand (see the README).")
        return str(tenant)

    async def register_webhook(self, url: str) -> WebhookRegistration:
        """Points the tenant's post-meeting webhook here with a fresh secret (shown once). Chalk keeps one
        such webhook per tenant: this replaces any other."""
        import secrets

        tenant = await self._tenant_id()
        secret = secrets.token_urlsafe(32)
        await self._request("PATCH", _path("tenants", tenant, "config"), json={"post_meeting_webhook": {
            "enabled": True, "url": url, "secret": secret, "include_recording": True,
            "include_transcript": False, "include_summary": True, "include_action_items": True}})
        self._webhook_secret, self._webhooks = secret, None
        return WebhookRegistration(
            id=tenant, url=url, secret=secret, secret_setting="CHALK_WEBHOOK_SECRET",
            note="Chalk keeps one post-meeting webhook per tenant: this one "
                 "replaced any other. Summaries need the tenant's transcription and AI settings.")


    async def list_webhooks(self) -> list[WebhookRegistration]:
        raise MeetopsError("Chalk has no way to list its webhook: it keeps one post-meeting webhook per tenant. "
                           "`meetops webhooks register --provider chalk --url …` replaces it, and `meetops webhooks "
                           "delete --provider chalk <tenant id>` turns it off (register prints the tenant id).")

    async def delete_webhook(self, webhook_id: str) -> None:
        """Turns the tenant's post-meeting webhook off; its id is the tenant's (what register printed)."""
        tenant = await self._tenant_id()
        if webhook_id != tenant:
            raise ProviderNotFound(f"Chalk's webhook belongs to the tenant: its id is {tenant}.")
        await self._request("PATCH", _path("tenants", tenant, "config"),
                            json={"post_meeting_webhook": {"enabled": False}})


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _token(body: Any) -> str:
    token = (body or {}).get("access_token") if isinstance(body, dict) else None
    if not token:
        raise ProviderRejected("Chalk sent no token for this person. Please try again.")
    return str(token)


def _expires_in(body: Any) -> timedelta:
    seconds = _int((body or {}).get("expires_in") if isinstance(body, dict) else None)
    return timedelta(seconds=seconds) if seconds and seconds > 0 else TOKEN_LIFETIME
