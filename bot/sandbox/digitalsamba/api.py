"""The emulated Digital Samba REST API under /api/v1: same paths, statuses and bodies."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from .endpoints import Call, Handler, api_endpoint, no_content
from .errors import check
from .models import API_PREFIX, DEFAULT_ROLE, DEFAULT_ROLES, EVENT_NAMES, RECORDING_STATUSES, Room, iso
from .pagination import paginate
from .present import (
    live_json,
    poll_json,
    poll_results_json,
    recording_json,
    room_json,
    session_json,
    session_statistics_json,
    summary_json,
    webhook_json,
)
from .validation import Rules, as_bool, poll_errors, restream_errors, room_errors, webhook_errors


# -- rooms ------------------------------------------------------------------------------


def _room_keys(room: Room) -> tuple[str, ...]:
    return (room.id, room.friendly_url)


def _validate_room(call: Call, room: Room | None) -> None:
    check(
        room_errors(
            call.body,
            url_taken=lambda url: call.state.friendly_url_taken(url, by=room),
            now=call.state.now(),
            current_roles=room.roles if room else list(DEFAULT_ROLES),
            current_default_role=room.default_role if room else DEFAULT_ROLE,
        )
    )


def create_room(call: Call) -> Any:
    _validate_room(call, None)
    return room_json(call.state.create_room(call.body), call.base_url)


def list_rooms(call: Call) -> Any:
    rooms = list(call.state.rooms.values())
    return paginate(rooms, call.page(), lambda room: room_json(room, call.base_url), keys=_room_keys)


def get_room(call: Call) -> Any:
    return room_json(call.room(), call.base_url)


def update_room(call: Call) -> Any:
    room = call.room()
    _validate_room(call, room)
    return room_json(call.state.update_room(room, call.body), call.base_url)


def delete_room(call: Call) -> Any:
    call.state.delete_room(call.room())
    return no_content()


def list_live_rooms(call: Call) -> Any:
    state, now = call.state, call.state.now()
    live = state.find_sessions(live=True)
    return paginate(live, call.page(), lambda s: live_json(s.room, s, now), keys=lambda s: _room_keys(s.room))


def get_room_live(call: Call) -> Any:
    room = call.room()
    return live_json(room, call.state.live_session(room.id), call.state.now())


# -- sessions ---------------------------------------------------------------------------


def _session_filters(call: Call) -> dict[str, Any]:
    """`live` and the inclusive `Y-m-d` date range, as arguments for `find_sessions`."""
    query = call.query
    rules = Rules(query)
    rules.boolean("live")
    date_start = rules.date("date_start", "%Y-%m-%d", "Y-m-d")
    date_end = rules.date("date_end", "%Y-%m-%d", "Y-m-d")
    if date_start and date_end and date_end < date_start:
        rules.fail("date_end", "The date end field must be a date after or equal to date start.")
    check(rules.errors)
    return {
        "live": as_bool(query["live"]) if query.get("live") else None,
        "start": date_start.replace(tzinfo=timezone.utc) if date_start else None,
        "end": date_end.replace(tzinfo=timezone.utc) + timedelta(days=1) if date_end else None,
    }


def list_sessions(call: Call) -> Any:
    filters = _session_filters(call)
    sessions = call.state.find_sessions(room_id=call.query.get("room_id"), **filters)
    return paginate(sessions, call.page(), session_json)


def list_room_sessions(call: Call) -> Any:
    room, filters = call.room(), _session_filters(call)
    return paginate(call.state.find_sessions(room_id=room.id, **filters), call.page(), session_json)


def get_session(call: Call) -> Any:
    return session_statistics_json(call.state.find_session(call.path("session")), call.state.now())


def end_session(call: Call) -> Any:
    call.state.end_session(call.state.find_session(call.path("session")))
    return None


def get_summary(call: Call) -> Any:
    return summary_json(call.state.read_summary(call.state.find_session(call.path("session"))))


# -- polls ------------------------------------------------------------------------------


def create_poll(call: Call) -> Any:
    room = call.room()
    check(poll_errors(call.body))
    body = call.body
    poll_type = body.get("type") or ("multiple" if as_bool(body.get("multiple")) else "single")
    poll = call.state.create_poll(
        room,
        question=body.get("question"),
        type=poll_type,
        anonymous=as_bool(body.get("anonymous")),
        option_texts=[option["text"] for option in body.get("options") or []],
    )
    return poll_json(poll)


def list_polls(call: Call) -> Any:
    room = call.room()
    polls = [p for p in call.state.polls.values() if p.room_id == room.id]
    return paginate(polls, call.page(), lambda poll: poll_json(poll, with_options=False))


def get_poll(call: Call) -> Any:
    return poll_json(call.state.find_poll(call.path("poll"), call.room()))


def get_poll_results(call: Call) -> Any:
    poll = call.state.find_poll(call.path("poll"), call.room())
    session_id = call.query.get("session_id")
    if session_id and poll.session_id != session_id:
        return []
    return [poll_results_json(poll)]


# -- restreaming ------------------------------------------------------------------------


def start_restream(call: Call) -> Any:
    room = call.room()
    check(restream_errors(call.body))
    destination = call.body.get("type") or call.body["server_url"]
    call.state.start_restream(room, destination=destination, stream_key=call.body["stream_key"])
    return None


def start_recording(call: Call) -> Any:
    call.state.start_recording(call.room())
    return PlainTextResponse("HTTP/1.1 200 OK")  # as the spec documents it


def stop_recording(call: Call) -> Any:
    call.state.stop_recording(call.room())
    return PlainTextResponse("HTTP/1.1 200 OK")


def stop_restream(call: Call) -> Any:
    call.state.stop_restream(call.room())
    return None


# -- webhooks ---------------------------------------------------------------------------


def list_events(call: Call) -> Any:
    return list(EVENT_NAMES)


def create_webhook(call: Call) -> Any:
    check(webhook_errors(call.body))
    body = call.body
    webhook = call.state.create_webhook(
        endpoint=body["endpoint"],
        events=body["events"],
        name=body.get("name"),
        authorization_header=body.get("authorization_header"),
    )
    return webhook_json(webhook)


def list_webhooks(call: Call) -> Any:
    return paginate(list(call.state.webhooks.values()), call.page(), webhook_json)


def get_webhook(call: Call) -> Any:
    return webhook_json(call.state.find_webhook(call.path("webhook")))


def delete_webhook(call: Call) -> Any:
    call.state.delete_webhook(call.state.find_webhook(call.path("webhook")))
    return no_content()


# -- recordings -------------------------------------------------------------------------


def list_recordings(call: Call) -> Any:
    query = call.query
    rules = Rules(query)
    rules.choice("status", RECORDING_STATUSES)
    check(rules.errors)
    recordings = [
        r
        for r in call.state.recordings.values()
        if query.get("room_id") in (None, r.room.id)
        and query.get("session_id") in (None, r.session_id)
        and query.get("status") in (None, r.status)
    ]
    return paginate(recordings, call.page(), recording_json)


def download_recording(call: Call) -> Any:
    recording = call.state.find_recording(call.path("recording"))
    rules = Rules(call.query)
    rules.integer("valid_for_minutes", min=1, max=10080)
    check(rules.errors)
    valid_until = call.state.now() + timedelta(minutes=int(call.query.get("valid_for_minutes") or 60))
    expires = int(valid_until.timestamp())
    return {
        "link": f"{call.base_url}/files/{recording.id}.mp4?expires={expires}",
        "valid_until": iso(valid_until),
    }


def _route(path: str, handler: Handler, method: str) -> Route:
    return Route(API_PREFIX + path, api_endpoint(handler), methods=[method])


routes = [
    _route("/rooms", create_room, "POST"),
    _route("/rooms", list_rooms, "GET"),
    # Before /rooms/{room}, which would otherwise take "live" for a room.
    _route("/rooms/live", list_live_rooms, "GET"),
    _route("/rooms/{room}", get_room, "GET"),
    _route("/rooms/{room}", update_room, "PATCH"),
    _route("/rooms/{room}", delete_room, "DELETE"),
    _route("/rooms/{room}/live", get_room_live, "GET"),
    _route("/rooms/{room}/sessions", list_room_sessions, "GET"),
    _route("/rooms/{room}/polls", create_poll, "POST"),
    _route("/rooms/{room}/polls", list_polls, "GET"),
    _route("/rooms/{room}/polls/{poll}", get_poll, "GET"),
    _route("/rooms/{room}/polls/{poll}/results", get_poll_results, "GET"),
    _route("/rooms/{room}/restreamers/start", start_restream, "POST"),
    _route("/rooms/{room}/restreamers/stop", stop_restream, "POST"),
    _route("/rooms/{room}/recordings/start", start_recording, "POST"),
    _route("/rooms/{room}/recordings/stop", stop_recording, "POST"),
    _route("/sessions", list_sessions, "GET"),
    _route("/sessions/{session}", get_session, "GET"),
    _route("/sessions/{session}/statistics", get_session, "GET"),
    _route("/sessions/{session}/end", end_session, "POST"),
    _route("/sessions/{session}/summary", get_summary, "GET"),
    _route("/events", list_events, "GET"),
    _route("/webhooks", create_webhook, "POST"),
    _route("/webhooks", list_webhooks, "GET"),
    _route("/webhooks/{webhook}", get_webhook, "GET"),
    _route("/webhooks/{webhook}", delete_webhook, "DELETE"),
    _route("/recordings", list_recordings, "GET"),
    _route("/recordings/{recording}/download", download_recording, "GET"),
]
