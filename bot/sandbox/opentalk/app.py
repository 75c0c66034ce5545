"""The OpenTalk emulator's routes: the controller's `/v1` endpoints meetops uses, with the spec's shapes
(frontend_api v0.30), an OIDC issuer (discovery + token endpoint, short-lived tokens), the web app's
join page, and the kit's control API plus `/_sandbox/oidc`, `/_sandbox/users` and `/_sandbox/features`."""

from __future__ import annotations

import base64
import binascii
import html
import re
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from dateutil import rrule as _rrule
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, JSONResponse, Response

from bot.sandbox.kit import EmulatorApp, Refusal, Request

from .world import OpenTalkWorld, RoomState, _iso, digits

DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                422: "validation_failed", 429: "too_many_requests", 500: "internal_server_error",
                502: "bad_gateway", 503: "service_unavailable"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)


def error_shape(refusal: Refusal) -> dict[str, Any]:
    details = refusal.details if isinstance(refusal.details, dict) else {}
    body = {"code": details.get("code") or STATUS_CODES.get(refusal.status, "error"), "message": refusal.message}
    if details.get("validation_errors"):
        body["validation_errors"] = details["validation_errors"]
    return body


def invalid(*entries: tuple[str | None, str, str]) -> Refusal:
    """422 with OpenTalk's validation_errors: (field, code, message) each."""
    return Refusal(422, "Some provided values are invalid",
                   {"code": "validation_failed",
                    "validation_errors": [{"field": f, "code": c, "message": m} for f, c, m in entries]})


def _parse_time(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid((field, "invalid_format", "Must be a date and time in RFC 3339 format")) from None
    if parsed.tzinfo is None:
        raise invalid((field, "invalid_format", "Must carry a UTC offset"))
    return parsed.astimezone(timezone.utc)


def _bearer(request: StarletteRequest) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _authenticate(request: StarletteRequest, world: OpenTalkWorld) -> bool:
    ok = world.token_state(_bearer(request)) == "valid"
    if not ok:
        world.oidc.refused += 1
    return ok


def _per_page(query: dict[str, str]) -> int:
    try:
        return max(1, min(MAX_PER_PAGE, int(query.get("per_page") or DEFAULT_PER_PAGE)))
    except ValueError:
        raise Refusal(400, "per_page must be a number", {"code": "bad_request"}) from None


def page_of(req: Request, items: list[Any]) -> Response:
    """page/per_page paging with OpenTalk's `link` header (`<…?page=2>; rel='next'`)."""
    query = req.query
    per_page = _per_page(query)
    try:
        page = max(1, int(query.get("page") or 1))
    except ValueError:
        raise Refusal(400, "page must be a number", {"code": "bad_request"}) from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    url = req.base_url + req.http.url.path
    links = []
    if page < last:
        links.append(f"<{url}?{urlencode({**query, 'per_page': per_page, 'page': page + 1})}>; rel='next'")
    links.append(f"<{url}?{urlencode({**query, 'per_page': per_page, 'page': last})}>; rel='last'")
    return JSONResponse(chunk, headers={"link": ", ".join(links)})


def cursor_of(req: Request, items: list[Any]) -> Response:
    """Cursor paging (`after`, an opaque base64 token) with the next page in the `link` header."""
    query = req.query
    per_page = _per_page(query)
    start = 0
    if query.get("after"):
        try:
            start = int(base64.urlsafe_b64decode(query["after"].encode()).decode().removeprefix("o:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Refusal(400, "The cursor is not valid", {"code": "bad_request"}) from None
    chunk = items[start:start + per_page]
    headers = {}
    if start + per_page < len(items):
        cursor = base64.urlsafe_b64encode(f"o:{start + per_page}".encode()).decode()
        url = req.base_url + req.http.url.path
        headers["link"] = f"<{url}?{urlencode({**query, 'per_page': per_page, 'after': cursor})}>; rel='next'"
    return JSONResponse(chunk, headers=headers)


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise Refusal(400, "The request body has fields this API does not know", {"code": "bad_request"})


def _bool_query(req: Request, name: str) -> bool | None:
    value = req.query.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise Refusal(400, f"{name} must be true or false", {"code": "bad_request"})
    return value == "true"


class Routes:
    def __init__(self, world: OpenTalkWorld):
        self.w = world

    # -- resources -------------------------------------------------------------------

    def room_info(self, room: RoomState) -> dict[str, Any]:
        info: dict[str, Any] = {"id": room.id, "waiting_room": room.waiting_room, "e2e_encryption": room.e2e_encryption}
        if room.password:
            info["password"] = room.password
        if room.sip and self.w.call_in_tel:
            info["call_in"] = {"tel": self.w.call_in_tel, "id": room.sip["sip_id"], "password": room.sip["password"]}
        return info

    def event_resource(self, event: dict[str, Any]) -> dict[str, Any]:
        room = self.w.rooms[event["room_id"]]
        creator = self.w.users[event["created_by"]].profile()
        out = {
            "id": event["id"], "created_by": creator, "created_at": event["created_at"], "updated_by": creator,
            "updated_at": event["created_at"], "title": event["title"], "description": event["description"],
            "room": self.room_info(room), "invitees_truncated": False,
            "invitees": [{"profile": invitee["profile"], "status": "pending"} for invitee in event["invitees"]],
            "is_time_independent": event["is_time_independent"], "is_adhoc": event["is_adhoc"],
            "type": "recurring" if event.get("recurrence_pattern") else "single",
            "invite_status": "accepted", "is_favorite": False, "can_edit": True, "show_meeting_details": True,
            "streaming_targets": [{k: v for k, v in t.items()} for t in room.targets.values()],
        }
        if not event["is_time_independent"]:
            out.update(is_all_day=event["is_all_day"], starts_at=event["starts_at"], ends_at=event["ends_at"])
            if event.get("recurrence_pattern"):
                out["recurrence_pattern"] = event["recurrence_pattern"]
        return out

    def room_resource(self, room: RoomState) -> dict[str, Any]:
        out = {"id": room.id, "created_by": self.w.users[room.created_by].profile(),
               "created_at": _iso(room.created_at), "waiting_room": room.waiting_room}
        if room.password:
            out["password"] = room.password
        return out

    def invite_resource(self, invite: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in invite.items()}

    # -- auth ------------------------------------------------------------------------

    def login(self, req: Request) -> Any:
        return {"oidc": {"name": "Keycloak (emulated)", "url": req.base_url + "/oidc"}}

    def discovery(self, req: Request) -> Any:
        issuer = req.base_url + "/oidc"
        return {"issuer": issuer, "token_endpoint": issuer + "/token",
                "authorization_endpoint": issuer + "/auth", "userinfo_endpoint": issuer + "/userinfo",
                "grant_types_supported": ["password", "refresh_token", "authorization_code"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}

    def token(self, req: Request) -> Any:
        body, w = req.body, self.w
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        basic = req.http.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None

        def oauth_error(status: int, error: str, description: str) -> Response:
            return JSONResponse({"error": error, "error_description": description}, status_code=status)

        if client_id != w.oidc.client_id or not secrets.compare_digest(str(client_secret or ""), w.oidc.client_secret):
            return oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
        grant = body.get("grant_type")
        if grant == "password":
            if body.get("username") != w.bot.username or not secrets.compare_digest(
                    str(body.get("password") or ""), w.bot.password):
                return oauth_error(400, "invalid_grant", "Invalid user credentials")
        elif grant == "refresh_token":
            expires = w.oidc.refresh.pop(str(body.get("refresh_token") or ""), None)
            if expires is None or expires <= w.now():
                return oauth_error(400, "invalid_grant", "Token is not active")
        else:
            return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        w.oidc.grants[grant] += 1
        return JSONResponse(w.issue_tokens(), headers={"Cache-Control": "no-store"})

    # -- users -----------------------------------------------------------------------

    def me(self, req: Request) -> Any:
        return {**self.w.bot.profile(), "dashboard_theme": "system", "conference_theme": "system",
                "language": "en", "tariff_status": "default", "used_storage": 0}

    def find(self, req: Request) -> Any:
        q = (req.query.get("q") or "").strip().casefold()
        if not q:
            raise invalid(("q", "value_required", "A search text is required"))
        if not self.w.user_search:
            return []
        return [{**u.profile(), "kind": "registered"} for u in self.w.users.values()
                if q in u.email.casefold() or q in f"{u.firstname} {u.lastname}".casefold()][:20]

    # -- events ----------------------------------------------------------------------

    def _validate_event(self, body: dict[str, Any]) -> dict[str, Any]:
        allowed = {"title", "description", "is_time_independent", "is_all_day", "starts_at", "ends_at",
                   "recurrence_pattern", "password", "waiting_room", "e2e_encryption", "is_adhoc",
                   "has_shared_folder", "show_meeting_details", "streaming_targets", "training_participation_report"}
        _only(body, allowed)
        problems: list[tuple[str, str, str]] = []
        for name in ("title", "description", "is_time_independent"):
            if name not in body:
                problems.append((name, "value_required", "This value is required"))
        if problems:
            raise invalid(*problems)
        if not isinstance(body["title"], str) or not 0 < len(body["title"]) <= 255:
            problems.append(("title", "invalid_length", "Must be between 1 and 255 characters long"))
        if not isinstance(body["description"], str) or len(body["description"]) > 4096:
            problems.append(("description", "invalid_length", "Must be at most 4096 characters long"))
        timed = body["is_time_independent"] is False
        if not timed:
            for name in ("starts_at", "ends_at", "recurrence_pattern"):
                if body.get(name) is not None:
                    problems.append((name, "invalid_value", "Must be empty for a meeting without a time"))
        else:
            times = {}
            for name in ("starts_at", "ends_at"):
                value = body.get(name)
                if not isinstance(value, dict) or "datetime" not in value or "timezone" not in value:
                    problems.append((name, "value_required", "A date, time and time zone are required"))
                    continue
                if value["timezone"] not in available_timezones():
                    problems.append((name, "invalid_timezone", "Is not a known time zone"))
                try:
                    times[name] = _parse_time(value["datetime"], name)
                except Refusal:
                    problems.append((name, "invalid_format", "Must be a date and time in RFC 3339 format"))
            if "is_all_day" not in body:
                problems.append(("is_all_day", "value_required", "This value is required"))
            if len(times) == 2 and times["ends_at"] <= times["starts_at"]:
                problems.append(("ends_at", "invalid_value", "Must be after the start"))
            pattern = body.get("recurrence_pattern")
            if pattern is not None:
                problems += self._validate_recurrence(pattern, times.get("starts_at"))
        if problems:
            raise invalid(*problems)
        return body

    @staticmethod
    def _validate_recurrence(pattern: Any, start: datetime | None) -> list[tuple[str, str, str]]:
        if not isinstance(pattern, list) or not 1 <= len(pattern) <= 4:
            return [("recurrence_pattern", "invalid_length", "Must hold between 1 and 4 rules")]
        for line in pattern:
            text = str(line)
            if len(text) > 1024 or "DTSTART" in text.upper() or "DTEND" in text.upper():
                return [("recurrence_pattern", "invalid_recurrence_pattern", "Rules must not set the start or end")]
            try:
                rule = text if text.upper().startswith(("RRULE:", "EXRULE:", "RDATE:", "EXDATE:")) else "RRULE:" + text
                _rrule.rrulestr(rule, dtstart=(start or datetime.now(timezone.utc)).replace(tzinfo=None))
            except (ValueError, TypeError):
                return [("recurrence_pattern", "invalid_recurrence_pattern", "Is not a valid RFC 5545 rule")]
            if "FREQ=SECONDLY" in text.upper() or "FREQ=MINUTELY" in text.upper():
                return [("recurrence_pattern", "invalid_recurrence_pattern", "Repeats more often than hourly")]
        return []

    def post_event(self, req: Request) -> Any:
        body = self._validate_event(req.body)
        suppress = _bool_query(req, "suppress_email_notification")
        w = self.w
        room = RoomState(id=str(uuid.uuid4()), created_by=w.bot.id, created_at=w.now(),
                         waiting_room=bool(body.get("waiting_room")), password=body.get("password"),
                         e2e_encryption=bool(body.get("e2e_encryption")))
        event = {"id": str(uuid.uuid4()), "created_by": w.bot.id, "created_at": _iso(w.now()),
                 "title": body["title"], "description": body["description"],
                 "is_time_independent": body["is_time_independent"], "is_adhoc": bool(body.get("is_adhoc")),
                 "is_all_day": bool(body.get("is_all_day")), "starts_at": body.get("starts_at"),
                 "ends_at": body.get("ends_at"), "recurrence_pattern": body.get("recurrence_pattern"),
                 "room_id": room.id, "invitees": [], "suppress_email": bool(suppress)}
        room.event_id = event["id"]
        for target in body.get("streaming_targets") or []:
            target_id = str(uuid.uuid4())
            room.targets[target_id] = {"id": target_id, **self._target(target)}
        w.rooms[room.id] = room
        w.events[event["id"]] = event
        return JSONResponse(self.event_resource(event), status_code=201)

    def _occurs_between(self, event: dict[str, Any], lo: datetime | None, hi: datetime | None) -> bool:
        if event["is_time_independent"]:
            return lo is None and hi is None
        start = _parse_time(event["starts_at"]["datetime"], "starts_at")
        end = _parse_time(event["ends_at"]["datetime"], "ends_at")
        if event.get("recurrence_pattern"):
            if hi is not None and start > hi:
                return False
            if lo is None:
                return True
            rules = _rrule.rruleset()
            for line in event["recurrence_pattern"]:
                text = line if ":" in line else "RRULE:" + line
                rules.rrule(_rrule.rrulestr(text, dtstart=start.replace(tzinfo=None)))
            later = rules.after((lo - (end - start)).replace(tzinfo=None), inc=True)
            return later is not None and (hi is None or later.replace(tzinfo=timezone.utc) <= hi)
        return (lo is None or end >= lo) and (hi is None or start <= hi)

    def get_events(self, req: Request) -> Any:
        query = req.query
        _only(dict.fromkeys(query), {"time_min", "time_max", "created_before", "created_after", "invitees_max",
                                     "favorites", "invite_status", "per_page", "after", "adhoc", "time_independent"})
        lo = _parse_time(query["time_min"], "time_min") if query.get("time_min") else None
        hi = _parse_time(query["time_max"], "time_max") if query.get("time_max") else None
        independent = _bool_query(req, "time_independent")
        events = []
        for event in self.w.events.values():
            if independent is not None and event["is_time_independent"] != independent:
                continue
            if (lo or hi) and not self._occurs_between(event, lo, hi):
                continue
            events.append(self.event_resource(event))
        return cursor_of(req, events)

    def get_event(self, req: Request) -> Any:
        return self.event_resource(self.w.event(req.param("event_id")))

    def delete_event(self, req: Request) -> Any:
        event = self.w.event(req.param("event_id"))
        self.w.delete_room(event["room_id"])
        return None

    def post_event_invite(self, req: Request) -> Any:
        event = self.w.event(req.param("event_id"))
        body = req.body
        suppress = _bool_query(req, "suppress_email_notification") or False
        if "invitee" in body:
            _only(body, {"invitee", "role"})
            if body.get("role", "user") not in ("user", "moderator"):
                raise invalid(("role", "invalid_value", "Must be user or moderator"))
            user = self.w.users.get(str(body["invitee"]))
            if user is None:
                raise Refusal(400, "The invited user does not exist", {"code": "bad_request"})
            key, role = user.id, body.get("role", "user")
            profile = {**user.profile(), "kind": "registered", "role": role}
        elif "email" in body:
            _only(body, {"email", "role"})
            if body.get("role", "guest") not in ("guest", "moderator"):
                raise invalid(("role", "invalid_value", "Must be guest or moderator"))
            if not isinstance(body["email"], str) or not _EMAIL.match(body["email"]):
                raise invalid(("email", "invalid_email", "Is not a valid e-mail address"))
            key, role = body["email"].casefold(), body.get("role", "guest")
            profile = {"email": body["email"], "kind": "email", "avatar_url": ""}
        else:
            raise invalid((None, "value_required", "Either a user or an e-mail address is required"))
        if event["created_by"] == key or any(i["key"] == key for i in event["invitees"]):
            return None  # 204: already invited (the role stays: PATCH changes it)
        event["invitees"].append({"key": key, "profile": profile, "role": role})
        if profile["kind"] == "email" and not suppress:
            self.w.emails_sent.append({"to": profile["email"], "event": event["title"]})
        return JSONResponse([self.event_resource(event)], status_code=201)

    def patch_event_invite(self, req: Request) -> Any:
        event = self.w.event(req.param("event_id"))
        _only(req.body, {"role"})
        role = req.body.get("role")
        if role is not None and role not in ("user", "moderator"):
            raise invalid(("role", "invalid_value", "Must be user or moderator"))
        invitee = next((i for i in event["invitees"] if i["key"] == req.param("user_id")), None)
        if invitee is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        if role is not None:
            invitee["role"] = invitee["profile"]["role"] = role
        return None

    # -- rooms -----------------------------------------------------------------------

    def get_rooms(self, req: Request) -> Any:
        return page_of(req, [self.room_resource(r) for r in self.w.rooms.values()])

    def get_room(self, req: Request) -> Any:
        return self.room_resource(self.w.room(req.param("room_id")))

    def delete_room(self, req: Request) -> Any:
        self.w.room(req.param("room_id"))
        self.w.delete_room(req.param("room_id"))
        return None

    def room_event(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        event = self.w.events.get(room.event_id or "")
        if event is None:
            raise Refusal(404, "The room has no event", {"code": "not_found"})
        info = self.room_info(room)
        return {"id": event["id"], "room_id": room.id, "title": event["title"], "is_adhoc": event["is_adhoc"],
                "e2e_encryption": room.e2e_encryption,
                "meeting_details": {"call_in": info.get("call_in"),
                                    "streaming_links": [{"name": t["name"], "url": t["public_url"]}
                                                        for t in room.targets.values()]}}

    # invites
    def post_invite(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        _only(req.body, {"expiration"})
        expiration = req.body.get("expiration")
        if expiration is not None:
            when = _parse_time(expiration, "expiration")
            if when <= self.w.now():
                raise invalid(("expiration", "date_in_past", "Must be in the future"))
            expiration = _iso(when)
        bot = self.w.bot.profile()
        now = _iso(self.w.now())
        invite = {"invite_code": str(uuid.uuid4()), "room_id": room.id, "active": True, "created": now,
                  "created_by": bot, "updated": now, "updated_by": bot, "expiration": expiration}
        room.invites[invite["invite_code"]] = invite
        return invite

    def get_invites(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        return page_of(req, [self.invite_resource(i) for i in room.invites.values()])

    def get_invite(self, req: Request) -> Any:
        invite = self.w.room(req.param("room_id")).invites.get(req.param("invite_code"))
        if invite is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return invite

    def delete_invite(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        if room.invites.pop(req.param("invite_code"), None) is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return None

    def valid_invite(self, code: str) -> dict[str, Any] | None:
        for room in self.w.rooms.values():
            invite = room.invites.get(code)
            if invite and invite["active"]:
                expiration = invite.get("expiration")
                if expiration is None or _parse_time(expiration, "expiration") > self.w.now():
                    return invite
        return None

    def verify_invite(self, req: Request) -> Any:
        invite = self.valid_invite(str(req.body.get("invite_code") or ""))
        if invite is None:
            raise Refusal(404, "The invite code is unknown or has expired", {"code": "not_found"})
        room = self.w.rooms[invite["room_id"]]
        return {"room_id": room.id, "password_required": bool(room.password)}

    # sip
    def put_sip(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        _only(req.body, {"lobby", "password"})
        if self.w.call_in_tel is None:
            raise Refusal(403, "The call-in feature is not enabled on this deployment", {"code": "missing_feature"})
        password = req.body.get("password")
        if password is not None and not (isinstance(password, str) and len(password) == 10 and password.isdigit()):
            raise invalid(("password", "invalid_value", "Must be 10 digits"))
        created = room.sip is None
        room.sip = {"room": room.id, "sip_id": (room.sip or {}).get("sip_id") or digits(),
                    "password": password or (room.sip or {}).get("password") or digits(),
                    "lobby": bool(req.body.get("lobby", (room.sip or {}).get("lobby", False)))}
        return JSONResponse(room.sip, status_code=201 if created else 200)

    def get_sip(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        if room.sip is None:
            raise Refusal(404, "The room has no SIP configuration", {"code": "not_found"})
        return room.sip

    def delete_sip(self, req: Request) -> Any:
        self.w.room(req.param("room_id")).sip = None
        return None

    # streaming targets
    @staticmethod
    def _target(body: dict[str, Any]) -> dict[str, Any]:
        _only(body, {"name", "kind", "streaming_endpoint", "streaming_key", "public_url"})
        problems = []
        if not isinstance(body.get("name"), str) or not body.get("name"):
            problems.append(("name", "value_required", "A name is required"))
        if body.get("kind") != "custom":
            problems.append(("kind", "invalid_value", "Must be custom"))
        for name in ("streaming_endpoint", "public_url"):
            if not isinstance(body.get(name), str) or not _URI.match(body[name]):
                problems.append((name, "invalid_url", "Is not a valid URL"))
        if not isinstance(body.get("streaming_key"), str) or not body.get("streaming_key"):
            problems.append(("streaming_key", "value_required", "A key is required"))
        if problems:
            raise invalid(*problems)
        return {k: body[k] for k in ("name", "kind", "streaming_endpoint", "streaming_key", "public_url")}

    def post_target(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        target = {"id": str(uuid.uuid4()), **self._target(req.body)}
        room.targets[target["id"]] = target
        return target  # 200, key included: the real API echoes it too

    def get_targets(self, req: Request) -> Any:
        return page_of(req, list(self.w.room(req.param("room_id")).targets.values()))

    def get_target(self, req: Request) -> Any:
        target = self.w.room(req.param("room_id")).targets.get(req.param("target_id"))
        if target is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return target

    def delete_target(self, req: Request) -> Any:
        if self.w.room(req.param("room_id")).targets.pop(req.param("target_id"), None) is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return None

    # assets
    def get_assets(self, req: Request) -> Any:
        room = self.w.room(req.param("room_id"))
        return page_of(req, [{k: v for k, v in a.items() if k != "_data"} for a in room.assets.values()])

    def get_asset(self, req: Request) -> Any:
        asset = self.w.room(req.param("room_id")).assets.get(req.param("asset_id"))
        if asset is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return Response(asset["_data"], media_type="application/octet-stream",
                        headers={"content-disposition": f'attachment; filename="{asset["filename"]}"'})

    def delete_asset(self, req: Request) -> Any:
        if self.w.room(req.param("room_id")).assets.pop(req.param("asset_id"), None) is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return None

    # the web app's room page (what a person opening a join link sees)
    def web_room(self, req: Request) -> Any:
        room = self.w.rooms.get(req.param("room_id"))
        if room is None:
            return HTMLResponse("<p>This meeting room does not exist (any more).</p>", status_code=404)
        title = html.escape((self.w.events.get(room.event_id or "") or {}).get("title", "meeting"))
        code = req.query.get("invite")
        if code is None:
            return HTMLResponse(f"<p>Sign in with your OpenTalk account to enter {title}.</p>")
        invite = self.valid_invite(code)
        if invite is None or invite["room_id"] != room.id:
            return HTMLResponse("<p>This invite link has expired or is not valid.</p>", status_code=403)
        lobby = " (waiting room: a moderator lets you in)" if room.waiting_room else ""
        return HTMLResponse(f"<p>Enter your name to join {title} as a guest{lobby}.</p>")


class _WwwAuthenticate:
    """Adds OpenTalk's `WWW-Authenticate: Bearer error="invalid_token"` to /v1 401s, saying whether the
    token expired or is unknown (the kit's authentication renders the body, not this header)."""

    def __init__(self, app, world: OpenTalkWorld):
        self.app, self.world = app, world

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        token = None
        for name, value in scope.get("headers") or []:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].decode("latin-1").strip()
        state = self.world.token_state(token)

        async def send_with_header(message):
            if message["type"] == "http.response.start" and message["status"] == 401:
                description = ("The user session expired" if state == "expired"
                               else "The provided access token is invalid")
                message = {**message, "headers": [*message.get("headers", []), (
                    b"www-authenticate", f'Bearer error="invalid_token", error_description="{description}"'.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(world: OpenTalkWorld) -> Starlette:
    r = Routes(world)
    emu = EmulatorApp(world, error_shape=error_shape, authenticate=_authenticate)
    api = emu.api
    api("/v1/auth/login", ["GET"], r.login, public=True)
    api("/oidc/.well-known/openid-configuration", ["GET"], r.discovery, public=True)
    api("/oidc/token", ["POST"], r.token, public=True)
    api("/v1/users/me", ["GET"], r.me)
    api("/v1/users/find", ["GET"], r.find)
    api("/v1/events", ["GET"], r.get_events)
    api("/v1/events", ["POST"], r.post_event)
    api("/v1/events/{event_id}", ["GET"], r.get_event)
    api("/v1/events/{event_id}", ["DELETE"], r.delete_event)
    api("/v1/events/{event_id}/invites", ["POST"], r.post_event_invite)
    api("/v1/events/{event_id}/invites/{user_id}", ["PATCH"], r.patch_event_invite)
    api("/v1/invite/verify", ["POST"], r.verify_invite, public=True)
    api("/v1/rooms", ["GET"], r.get_rooms)
    api("/v1/rooms/{room_id}", ["GET"], r.get_room)
    api("/v1/rooms/{room_id}", ["DELETE"], r.delete_room)
    api("/v1/rooms/{room_id}/event", ["GET"], r.room_event)
    api("/v1/rooms/{room_id}/invites", ["GET"], r.get_invites)
    api("/v1/rooms/{room_id}/invites", ["POST"], r.post_invite)
    api("/v1/rooms/{room_id}/invites/{invite_code}", ["GET"], r.get_invite)
    api("/v1/rooms/{room_id}/invites/{invite_code}", ["DELETE"], r.delete_invite)
    api("/v1/rooms/{room_id}/sip", ["GET"], r.get_sip)
    api("/v1/rooms/{room_id}/sip", ["PUT"], r.put_sip)
    api("/v1/rooms/{room_id}/sip", ["DELETE"], r.delete_sip)
    api("/v1/rooms/{room_id}/streaming_targets", ["GET"], r.get_targets)
    api("/v1/rooms/{room_id}/streaming_targets", ["POST"], r.post_target)
    api("/v1/rooms/{room_id}/streaming_targets/{target_id}", ["GET"], r.get_target)
    api("/v1/rooms/{room_id}/streaming_targets/{target_id}", ["DELETE"], r.delete_target)
    api("/v1/rooms/{room_id}/assets", ["GET"], r.get_assets)
    api("/v1/rooms/{room_id}/assets/{asset_id}", ["GET"], r.get_asset)
    api("/v1/rooms/{room_id}/assets/{asset_id}", ["DELETE"], r.delete_asset)
    api("/room/{room_id}", ["GET"], r.web_room, public=True)

    def put_oidc(body: dict, _: dict) -> Any:
        if "token_lifetime" in body:
            lifetime = body["token_lifetime"]
            if not isinstance(lifetime, int) or not 1 <= lifetime <= 86400:
                raise Refusal(422, "token_lifetime must be whole seconds between 1 and 86400.")
            world.oidc.token_lifetime = lifetime
        if body.get("expire"):
            world.expire_tokens()
        if body.get("revoke"):
            world.revoke_tokens(refresh=body.get("revoke") == "all")
        return {"grants": dict(world.oidc.grants), "token_lifetime": world.oidc.token_lifetime,
                "refused": world.oidc.refused}

    def add_user(body: dict, _: dict) -> Any:
        email = str(body.get("email") or "")
        if not _EMAIL.match(email):
            raise Refusal(422, "A user needs an e-mail address.")
        name = str(body.get("name") or email.split("@")[0]).split(" ", 1)
        return world.add_user(email, name[0], name[1] if len(name) > 1 else "").profile()

    def put_features(body: dict, _: dict) -> Any:
        if "call_in" in body:
            world.call_in_tel = str(body["call_in"]) if body["call_in"] else None
        if "user_search" in body:
            world.user_search = bool(body["user_search"])
        return {"call_in": world.call_in_tel, "user_search": world.user_search}

    # The kit's control routes take the same loopback guard.
    emu._control("/oidc", "GET", lambda b, p: put_oidc({}, p))
    emu._control("/oidc", "PUT", put_oidc)
    emu._control("/users", "POST", add_user)
    emu._control("/features", "PUT", put_features)
    app = emu.build(sim=world)
    app.add_middleware(_WwwAuthenticate, world=world)
    return app


def expiry_in(hours: float) -> str:
    return _iso(datetime.now(timezone.utc) + timedelta(hours=hours))
