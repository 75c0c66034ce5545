"""OpenTalk REST client (controller frontend API v0.30): the only module that knows its paths and fields.

It sits on the shared HTTP layer (`bot.providers.http`: retries, one deadline per action, errors in
words) with OIDC access tokens (`auth.OidcTokens`). A meetops room is an OpenTalk *event* with its room
(so the name shows in OpenTalk too); join links are invite codes or, for people with an OpenTalk
account, an invitation to the event. OpenTalk's answers carry secrets (stream keys, room and call-in
passwords): no answer body is logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from bot.config import ConfigError
from bot.errors import (
    MeetopsError,
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.base import (
    JoinGrant,
    Person,
    Provider,
    Recording,
    RestreamStarted,
    RestreamTarget,
    Role,
    Room,
    RoomSpec,
)
from bot.providers.http import ErrorWords, ProviderHTTP, is_http_url, json_body, parse_time, probe_failure
from bot.providers.http import path as _path
from bot.providers.opentalk.auth import OidcTokens, OpenTalkAuthError
from bot.providers.scheduling import MeetingPlan, Occurrence, RecordingDownload, ScheduledMeeting
from bot.recurrence import expand, parse_rrule_line, rrule_line

PAGE_SIZE = 100  # OpenTalk's maximum per_page (larger values are clamped)
TARGET_PREFIX = "meetops: "  # streaming targets meetops made (Stop removes only those)
REUSE_MARGIN = timedelta(minutes=10)  # an invite this close to expiry is not handed out again
WAITING_ROOM = "waiting-room"
PHONE = "phone"

# What OpenTalk's fields are, in the words of the person who filled the form (never the field name).
FIELD_WORDS = {
    "title": "the title",
    "description": "the description",
    "starts_at": "the start time",
    "ends_at": "the end time",
    "datetime": "the date and time",
    "timezone": "the time zone",
    "recurrence_pattern": "the repeat rule",
    "expiration": "the link's expiry time",
    "email": "the e-mail address",
    "invitee": "the person invited",
    "role": "the role",
    "password": "the password",
    "waiting_room": "the waiting room setting",
    "name": "the name",
    "streaming_endpoint": "the stream destination",
    "streaming_key": "the stream key",
    "public_url": "the public address of the stream",
    "is_all_day": "the all-day setting",
    "is_time_independent": "the timing of the meeting",
}
CODE_WORDS = {
    "invalid_length": "is too long or too short",
    "out_of_range": "is out of range",
    "invalid_value": "is not valid",
    "invalid_url": "is not a valid web address",
    "invalid_email": "is not a valid e-mail address",
    "invalid_timezone": "is not a time zone I know",
    "invalid_recurrence_pattern": "is not a repeat rule OpenTalk accepts",
    "value_required": "is missing",
    "invalid_format": "is not in the right format",
    "date_in_past": "is in the past",
}
_FIELD_NAME = re.compile(r"`?\b[a-z]+(?:_[a-z]+)+\b`?")  # snake_case words: API field names


def _scrub(text: str) -> str:
    """A message from OpenTalk, without API field names in it (said in words instead)."""
    return _FIELD_NAME.sub(lambda m: FIELD_WORDS.get(m.group(0).strip("`"), "a value"), text)


def describe_validation(entries: Any) -> str:
    """OpenTalk's `validation_errors` as sentences ("The start time is in the past."), never field names."""
    sentences = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        field = str(entry.get("field") or "").split(".")[-1].split("[")[0]
        subject = FIELD_WORDS.get(field, "One of the values" if field else "The request")
        detail = _scrub(str(entry.get("message") or "")).strip().rstrip(".")
        if not detail:
            detail = CODE_WORDS.get(str(entry.get("code")), "is not valid")
        first = detail.split(" ", 1)[0].lower()
        if first in _VERBS:
            sentence = f"{subject} {detail[0].lower()}{detail[1:]}"
        else:
            sentence = f"{subject}: {detail}"
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)


_VERBS = {"is", "are", "must", "should", "has", "have", "cannot", "can't", "does", "was", "may", "needs",
          "repeats", "contains", "exceeds"}


def error_message(response: httpx.Response) -> str:
    body = json_body(response)
    message = _scrub(str(body.get("message") or "")).strip()
    detail = describe_validation(body.get("validation_errors"))
    if detail:
        return detail if not message else f"{message.rstrip('.')}. {detail}"
    return message


def _rejected(response: httpx.Response, message: str) -> ProviderError | None:
    status = response.status_code
    if status == 404:
        return ProviderNotFound(message and f"OpenTalk doesn't know it: {message}"
                                or "OpenTalk doesn't know that room or meeting (it may have been deleted).",
                                status=404)
    if 400 <= status < 500 and status not in (401, 403, 429):
        body = json_body(response)
        errors = {str(e.get("field") or ""): e.get("code") for e in body.get("validation_errors") or []
                  if isinstance(e, dict)}
        return ProviderRejected(f"OpenTalk said no: {message or f'HTTP {status}'}", status=status, errors=errors)
    return None


WORDS = ErrorWords(title="OpenTalk", settings="OPENTALK_CLIENT_ID, OPENTALK_USERNAME and OPENTALK_PASSWORD",
                   message=error_message, rejected=_rejected)


def _digest(code: str) -> str:
    """What meetops keeps of an invite code: its SHA-256, enough to find the code again, useless to enter."""
    return hashlib.sha256(code.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


PRESETS = {  # platform -> (RTMP ingest, where viewers watch); OpenTalk only knows "custom" targets
    "youtube": ("rtmp://a.rtmp.youtube.com/live2", "https://www.youtube.com/"),
    "vimeo": ("rtmps://rtmp-global.cloud.vimeo.com:443/live", "https://vimeo.com/"),
    "cloudflare": ("rtmps://live.cloudflare.com:443/live/", "https://dash.cloudflare.com/"),
}


class OpenTalkClient(Provider):
    """The OpenTalk provider."""

    def __init__(self, http: httpx.AsyncClient, *, web_url: str, tokens: OidcTokens, attempts: int = 3,
                 page_size: int = PAGE_SIZE):
        from bot.providers.opentalk import PLUGIN

        self.plugin = PLUGIN
        self._http = http
        self._api = ProviderHTTP(http, WORDS, attempts=attempts)
        self._web_url = web_url.rstrip("/")
        self.tokens = tokens
        self.page_size = page_size

    def __repr__(self) -> str:
        return f"OpenTalkClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.tokens.aclose()

    async def _request(self, method: str, url: str, *, params: dict | None = None, json: Any = None) -> Any:
        return await self._api.request(method, url, params=params, json=json)

    async def _pages(self, url: str, params: dict | None = None) -> AsyncIterator[Any]:
        """Every item of a listing, following the `link` header's rel=next (page or cursor), never one
        page assumed."""
        async for item in self._api.link_pages(url, {**(params or {}), "per_page": self.page_size}):
            yield item

    async def check(self) -> None:
        """Sign in and read the bot's own profile, so wrong credentials are named at start-up. Worded for
        whoever runs the bot, the setting first; the caller says what it was doing."""
        base = str(self._http.base_url).rstrip("/")
        if not is_http_url(base):
            raise ConfigError(f"OPENTALK_API_URL: {base!r} is not an http(s) URL; it should look like "
                              "https://controller.example.com/v1.")
        try:
            await self._request("GET", "users/me")
        except OpenTalkAuthError as exc:
            raise ConfigError(exc.user_message.replace("An admin needs to check", "Check")) from None
        except ProviderAuthError:
            raise ConfigError("OPENTALK_USERNAME: OpenTalk refused the bot's access token for this user (is the "
                              "user allowed to use OpenTalk, and does OPENTALK_API_URL belong to the same OIDC "
                              "issuer?).") from None
        except ProviderNotFound:
            raise ConfigError(f"OPENTALK_API_URL: {base} answers 404 for /users/me. It should end in /v1, e.g. "
                              "https://controller.example.com/v1.") from None
        except ProviderError as exc:
            raise probe_failure("OPENTALK_API_URL", "OpenTalk", base, exc) from None

    # -- rooms ---------------------------------------------------------------------

    def room_url(self, room_id: str) -> str:
        return f"{self._web_url}/room/{room_id}"

    def _room(self, event: Mapping[str, Any], *, slug: str | None = None, facts=()) -> Room:
        room = event.get("room") if isinstance(event.get("room"), dict) else {}
        room_id = str(room.get("id") or event.get("room_id") or "")
        if not room_id:
            raise ProviderNotFound("OpenTalk has no room for that meeting.")
        return Room(
            id=room_id,
            friendly_url=slug or room_id,
            description=event.get("title"),
            privacy="public",
            room_url=self.room_url(room_id),
            extra={"event_id": str(event.get("id") or ""), "waiting_room": bool(room.get("waiting_room"))},
            facts=(tuple(facts) or self._call_in_facts(room.get("call_in"))) + (
                # An invite link enters as a guest: only someone signed in to OpenTalk can let people in.
                (("Waiting room", "on: a moderator signed in with an OpenTalk account lets each person in"),)
                if room.get("waiting_room") else ()),
        )

    @staticmethod
    def _call_in_facts(call_in: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(call_in, dict) or not call_in.get("tel"):
            return ()
        return (("Dial in", str(call_in["tel"])), ("Phone room id", str(call_in.get("id") or "")),
                ("Phone PIN", str(call_in.get("password") or "")))

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str = "") -> Room:
        body = {
            "title": spec.name[:255],
            "description": (spec.description or "")[:4096],
            "is_time_independent": True,
            "waiting_room": WAITING_ROOM in spec.options,
        }
        event = await self._request("POST", "events", params={"suppress_email_notification": "true"}, json=body)
        room = self._room(event, slug=spec.slug)
        if PHONE in spec.options:
            room = await self._enable_phone(room, event)
        return room

    async def _enable_phone(self, room: Room, event: Mapping[str, Any]) -> Room:
        """SIP dial-in for the room; the room message shows number, id and PIN when the deployment has
        a call-in number (else it says dial-in is not set up there)."""
        try:
            sip = await self._request("PUT", _path("rooms", room.id, "sip"), json={"lobby": False})
            again = await self._request("GET", _path("events", room.extra["event_id"]))
        except ProviderUnavailable:
            return _with(room, facts=(("Phone", "dial-in could not be switched on: OpenTalk did not answer"),))
        except ProviderError:  # 403 without the call-in feature, or refused
            return _with(room, facts=(("Phone", "not available: this OpenTalk has no phone dial-in (call-in)"),))
        facts = self._call_in_facts((again.get("room") or {}).get("call_in") if isinstance(again, dict) else None)
        if not facts:
            facts = (("Phone", "dial-in is on, but this OpenTalk has no dial-in number configured"),
                     ("Phone room id", str((sip or {}).get("sip_id") or "")),
                     ("Phone PIN", str((sip or {}).get("password") or "")))
        return _with(room, facts=facts, extra={**room.extra, "phone": True})

    async def _event_of(self, room_id: str) -> dict:
        info = await self._request("GET", _path("rooms", room_id, "event"))
        return info if isinstance(info, dict) else {}

    async def get_room(self, ref: str) -> Room:
        if not _is_uuid(ref):
            raise ProviderNotFound("OpenTalk has no room by that name.")
        room = await self._request("GET", _path("rooms", ref))
        try:
            info = await self._event_of(ref)
        except ProviderNotFound:
            info = {}  # a room without an event (made in OpenTalk itself)
        event = {"id": info.get("id"), "title": info.get("title"),
                 "room": {**(room or {}), "call_in": (info.get("meeting_details") or {}).get("call_in")}}
        return self._room(event)

    async def find_made(self, spec: RoomSpec, *, known: set[str]) -> Room | None:
        """OpenTalk rooms have no link names: the meeting made is the newest of the bot's with that title that
        meetops doesn't have yet."""
        made = None
        async for room in self.iter_rooms():
            if room.description == spec.name[:255] and room.id not in known:
                made = room  # listed oldest first: the last one is the newest
        return made

    async def iter_rooms(self) -> AsyncIterator[Room]:
        """The bot's meetings' rooms, titled (GET /events, cursor paging through the `link` header)."""
        seen: set[str] = set()
        async for event in self._pages("events"):
            if not isinstance(event, dict) or event.get("type") == "exception" or not event.get("room"):
                continue
            room = self._room(event)
            if room.id not in seen:
                seen.add(room.id)
                yield room

    async def delete_room(self, room: Room) -> None:
        """Deletes the event and its room; its invites, stream targets and recordings go with it."""
        event_id = room.extra.get("event_id") if room.extra else None
        try:
            if event_id:
                await self._request("DELETE", _path("events", event_id),
                                    params={"suppress_email_notification": "true"})
            else:
                await self._request("DELETE", _path("rooms", room.id))
        except ProviderNotFound:
            return  # already gone: deleting is done

    # -- join ----------------------------------------------------------------------

    async def _find_account(self, email: str) -> str | None:
        """The OpenTalk user id registered with exactly this e-mail address, if any (the deployment may
        switch user search off: then nobody is found)."""
        try:
            found = await self._request("GET", "users/find", params={"q": email})
        except (ProviderRejected, ProviderNotFound, ProviderAuthError):
            return None
        for entry in found if isinstance(found, list) else []:
            if (isinstance(entry, dict) and entry.get("kind", "registered") == "registered"
                    and str(entry.get("email") or "").casefold() == email.casefold() and entry.get("id")):
                return str(entry["id"])
        return None

    async def _event_id(self, room: Room) -> str:
        event_id = room.extra.get("event_id") if room.extra else None
        if event_id:
            return str(event_id)
        info = await self._event_of(room.id)
        if not info.get("id"):
            raise ProviderNotFound("OpenTalk has no meeting for that room.")
        return str(info["id"])

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        previous = previous or {}
        if previous.get("kind") == "account" and previous.get("role") == str(person.role):
            return self._account_grant(room, person)  # invited before, in this role: nothing to ask
        if person.email:
            user_id = await self._find_account(person.email)
            if user_id:
                role = "moderator" if person.role is Role.MODERATOR else "user"
                event_id = await self._event_id(room)
                made = await self._request("POST", _path("events", event_id, "invites"),
                                           params={"suppress_email_notification": "true"},
                                           json={"invitee": user_id, "role": role})
                if made is None:  # 204: invited before, maybe in another role
                    await self._request("PATCH", _path("events", event_id, "invites", user_id), json={"role": role})
                return self._account_grant(room, person)
        grant = await self._invite_grant(room, lifetime, previous)
        if person.role is Role.MODERATOR:  # the code can't make them one: say how to be one
            grant = replace(grant, note=f"{grant.note} To moderate, sign in to OpenTalk with an account whose "
                                        "e-mail address is the one of your Slack profile, then ask for a new link.")
        return grant

    def _account_grant(self, room: Room, person: Person) -> JoinGrant:
        role = "a moderator" if person.role is Role.MODERATOR else "a participant"
        return JoinGrant(url=room.room_url or self.room_url(room.id), expires_at=None, identity_bound=True,
                         note=f"You are invited as {role} with your OpenTalk account: sign in with it to enter.",
                         handle={"kind": "account", "role": str(person.role)})

    async def _invite_grant(self, room: Room, lifetime: timedelta, previous: Mapping[str, Any]) -> JoinGrant:
        now = datetime.now(timezone.utc)
        code = expires = None
        kept = parse_time(previous.get("expires_at")) if previous.get("kind") == "invite" else None
        if kept and kept - now > REUSE_MARGIN and previous.get("digest"):
            code, expires = await self._find_invite(room, str(previous["digest"]))
        if code is None:
            expires = now + lifetime
            made = await self._request("POST", _path("rooms", room.id, "invites"),
                                       json={"expiration": _iso(expires)})
            code = str((made or {}).get("invite_code") or "")
            expires = parse_time((made or {}).get("expiration")) or expires
            if not code:
                raise ProviderUnavailable("OpenTalk made no invite code. Please try again.")
        return JoinGrant(
            url=f"{room.room_url or self.room_url(room.id)}?invite={code}",
            expires_at=expires,
            identity_bound=False,
            guest=True,  # an invite code carries no role: whoever opens it enters as a guest
            note="OpenTalk invite codes carry no name and no role: you type your name when you open the link, "
                 "and enter as a guest.",
            handle={"kind": "invite", "digest": _digest(code), "expires_at": _iso(expires)})

    async def _find_invite(self, room: Room, digest: str) -> tuple[str | None, datetime | None]:
        """The still-active invite whose code hashes to `digest` (codes are never kept in clear)."""
        async for invite in self._pages(_path("rooms", room.id, "invites")):
            code = str(invite.get("invite_code") or "")
            if code and hmac.compare_digest(_digest(code), digest):
                expires = parse_time(invite.get("expiration"))
                active = invite.get("active", True) and (
                    expires is None or expires - datetime.now(timezone.utc) > REUSE_MARGIN)
                return (code, expires) if active else (None, None)
        return None, None

    # -- streaming targets ---------------------------------------------------------

    async def _meetops_targets(self, room: Room) -> list[str]:
        return [str(t["id"]) async for t in self._pages(_path("rooms", room.id, "streaming_targets"))
                if isinstance(t, dict) and str(t.get("name") or "").startswith(TARGET_PREFIX) and t.get("id")]

    async def start_restream(self, room: Room, target: RestreamTarget) -> RestreamStarted:
        """Stores the destination as the room's streaming target. OpenTalk starts streams only from
        inside the meeting, so the stream is not live yet; one meetops destination at a time."""
        endpoint, public = PRESETS.get(target.type or "", (target.server_url, None))
        if not endpoint:
            raise ValueError("a preset type or a server_url")
        for old in await self._meetops_targets(room):
            await self._request("DELETE", _path("rooms", room.id, "streaming_targets", old),
                                params={"suppress_email_notification": "true"})
        body = {"name": (TARGET_PREFIX + target.label)[:255], "kind": "custom", "streaming_endpoint": endpoint,
                "streaming_key": target.stream_key, "public_url": target.public_url or public or endpoint}
        # The answer echoes the key: it is read for nothing and never logged.
        await self._request("POST", _path("rooms", room.id, "streaming_targets"),
                            params={"suppress_email_notification": "true"}, json=body)
        return RestreamStarted(
            live=False,
            note="OpenTalk starts streams only from inside the meeting: a moderator in the meeting starts it "
                 "from the meeting's livestream control.")

    async def stop_restream(self, room: Room) -> None:
        for target_id in await self._meetops_targets(room):
            await self._request("DELETE", _path("rooms", room.id, "streaming_targets", target_id),
                                params={"suppress_email_notification": "true"})

    # -- recordings ----------------------------------------------------------------

    async def iter_recordings(self, room: Room) -> AsyncIterator[Recording]:
        async for asset in self._pages(_path("rooms", room.id, "assets")):
            if isinstance(asset, dict) and asset.get("namespace") == "recording" and asset.get("id"):
                yield Recording(id=str(asset["id"]), room_id=room.id, created_at=parse_time(asset.get("created_at")),
                                url=None, name=str(asset.get("filename") or "recording"))

    @property
    def serves_recordings_through_meetops(self) -> bool:
        return True

    async def recording_link(self, recording_id: str) -> str:
        """OpenTalk has no shareable recording link: meetops serves the file (`open_recording`)."""
        raise MeetopsError("OpenTalk recordings have no link of their own: `/meet recordings &lt;room&gt;` gives you a "
                           "download link through meetops.")

    @asynccontextmanager
    async def open_recording(self, room: Room, recording_id: str) -> AsyncIterator[RecordingDownload]:
        """Streams the asset with the bot's token (OpenTalk has no shareable link). 404 -> ProviderNotFound
        before anything is streamed."""
        if not _is_uuid(room.id) or not _is_uuid(recording_id):
            raise ProviderNotFound("OpenTalk has no such recording.")
        url = _path("rooms", room.id, "assets", recording_id)
        request = self._http.build_request("GET", url, headers={"Accept": "application/octet-stream"})
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError:
            raise ProviderUnavailable("I can't reach OpenTalk right now. Please try again in a minute.") from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise self._api.error_for(response, idempotent=False)
            disposition = response.headers.get("content-disposition", "")
            match = re.search(r'filename="?([^";]+)"?', disposition)
            size = response.headers.get("content-length")
            yield RecordingDownload(filename=match.group(1) if match else f"{recording_id}.webm",
                                    content_type=response.headers.get("content-type", "application/octet-stream"),
                                    size=int(size) if size and size.isdigit() else None,
                                    chunks=response.aiter_bytes())
        finally:
            await response.aclose()

    # -- scheduling ----------------------------------------------------------------

    async def schedule_meeting(self, plan: MeetingPlan) -> ScheduledMeeting:
        rrule = rrule_line(plan.repeat, plan.starts_at, plan.timezone)
        body: dict[str, Any] = {
            "title": plan.title[:255],
            "description": (plan.description or "")[:4096],
            "is_time_independent": False,
            "is_all_day": False,
            "starts_at": {"datetime": _iso(plan.starts_at), "timezone": plan.timezone},
            "ends_at": {"datetime": _iso(plan.ends_at), "timezone": plan.timezone},
            "waiting_room": False,
        }
        if rrule:
            body["recurrence_pattern"] = [rrule]
        # OpenTalk sends the invitees their calendar invitations (ICS): not suppressed here.
        event = await self._request("POST", "events", json=body)
        room = self._room(event)
        invited, problems = [], []
        for email in plan.invitees:
            try:
                await self._request("POST", _path("events", room.extra["event_id"], "invites"),
                                    json={"email": email, "role": "guest"})
                invited.append(email)
            except ProviderRejected as exc:
                problems.append(f"{email}: {exc.user_message}")
        return ScheduledMeeting(id=room.extra["event_id"], title=plan.title, starts_at=plan.starts_at,
                                ends_at=plan.ends_at, timezone=plan.timezone, repeat=plan.repeat, room=room,
                                invited=tuple(invited), problems=tuple(problems))

    async def iter_upcoming(self, *, since: datetime, until: datetime) -> AsyncIterator[Occurrence]:
        """Occurrences between `since` and `until`: GET /events (cursor paged) with the time range, each
        repeating event expanded from its own recurrence rules (dateutil) in its own time zone."""
        params = {"time_min": _iso(since), "time_max": _iso(until), "time_independent": "false"}
        found: list[Occurrence] = []
        async for event in self._pages("events", params):
            if not isinstance(event, dict) or event.get("type") == "exception" or event.get("is_time_independent"):
                continue
            starts = event.get("starts_at") or {}
            ends = event.get("ends_at") or {}
            start, end = parse_time(starts.get("datetime")), parse_time(ends.get("datetime"))
            zone = str(starts.get("timezone") or "UTC")
            room = event.get("room") or {}
            if not start or not end or not room.get("id"):
                continue
            rules = []
            for line in event.get("recurrence_pattern") or []:
                if str(line).upper().startswith(("RRULE:", "FREQ=")):
                    try:
                        rules.append(parse_rrule_line(str(line), start, zone))
                    except (ValueError, TypeError):
                        continue
            for at in expand(rules, start, zone, since, until):
                found.append(Occurrence(meeting_id=str(event.get("id")), title=str(event.get("title") or ""),
                                        starts_at=at, ends_at=at + (end - start), timezone=zone,
                                        room_id=str(room["id"]), repeating=bool(rules)))
        for occurrence in sorted(found, key=lambda o: o.starts_at):
            yield occurrence


def _with(room: Room, **changes: Any) -> Room:
    return replace(room, **changes)


__all__ = ["OpenTalkClient", "describe_validation", "error_message"]
