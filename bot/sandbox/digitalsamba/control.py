"""/_sandbox: how tests and the console play the world around the bot.

People join and leave rooms, sessions end, summaries and recordings become ready, votes
come in, history is bulk-made; faults and options are set and the request log is read.
No auth (loopback only), not logged, never faulted.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.routing import Route

from .endpoints import Call, Handler, control_endpoint, no_content
from .errors import Invalid, NotFound, Rejected, check
from .models import Faults, Session
from .present import participant_json, poll_results_json, recording_json, session_json, summary_json
from .state import CANNED_SUMMARY
from .validation import Rules, as_bool


def _live_session(call: Call) -> Session:
    room = call.room()
    session = call.state.live_session(room.id)
    if session is None:
        raise Rejected("The room has no live session.")
    return session


def join(call: Call) -> Any:
    """`{"name", "role", "count", "external_id"}`: people enter, starting a session if needed."""
    room, body = call.room(), call.body
    rules = Rules(body)
    rules.string("name", min=1, max=100)
    rules.choice("role", room.roles)
    rules.integer("count", min=1, max=1000)
    rules.string("external_id", max=255)
    check(rules.errors)
    count, name = int(body.get("count") or 1), body.get("name") or "Guest"
    joined = [
        call.state.join(
            room,
            name=name if count == 1 else f"{name} {index}",
            role=body.get("role"),
            external_id=body.get("external_id"),
        )
        for index in range(1, count + 1)
    ]
    session = call.state.find_session(joined[-1].session_id)
    return {**session_json(session), "joined": [participant_json(p) for p in joined]}


def leave(call: Call) -> Any:
    """`{"participant_id"}` or `{"name"}`: one person leaves; the last one out ends the session."""
    session, body = _live_session(call), call.body
    rules = Rules(body)
    rules.string("participant_id")
    rules.string("name")
    if not (rules.given("participant_id") or rules.given("name")):
        rules.fail("name", "The name field is required when participant id is not present.")
    check(rules.errors)
    wanted_id, wanted_name = body.get("participant_id"), body.get("name")
    participant = next(
        (
            p
            for p in session.live_participants.values()
            if wanted_id in (None, p.id) and wanted_name in (None, p.name)
        ),
        None,
    )
    if participant is None:
        raise NotFound("Participant not found.")
    call.state.leave(participant)
    return session_json(session)


def end(call: Call) -> Any:
    session = _live_session(call)
    call.state.end_session(session)
    return session_json(session)


def _parse_time(rules: Rules, field: str) -> datetime | None:
    if not rules.string(field):
        return None
    try:
        moment = datetime.fromisoformat(rules.data[field])
    except ValueError:
        rules.fail(field, f"The {rules.label(field)} field must be an ISO 8601 date.")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def add_history(call: Call) -> Any:
    """Bulk-make ended sessions: `{"room", "start_time", "duration_minutes", "interval_minutes",
    "participants", "count", "transcribed", "summary"}`. Sessions follow each other every
    `interval_minutes` (default: back to back); without `start_time` the last one has just ended.
    A `summary` makes them transcribed with that summary READY; `transcribed` alone, IN_PROGRESS."""
    body, now = call.body, call.state.now()
    rules = Rules(body)
    rules.string("room", required=True)
    start_time = _parse_time(rules, "start_time")
    rules.integer("duration_minutes", min=1, max=1440)
    rules.integer("interval_minutes", min=1)
    rules.integer("participants", min=1, max=2000)
    rules.integer("count", min=1, max=50_000)
    rules.boolean("transcribed")
    rules.string("summary", min=1)
    check(rules.errors)
    room = call.state.find_room(body["room"])
    count = int(body.get("count") or 1)
    duration = timedelta(minutes=int(body.get("duration_minutes") or 30))
    interval = timedelta(minutes=int(body["interval_minutes"])) if body.get("interval_minutes") else duration
    if start_time is None:
        start_time = now - (count - 1) * interval - duration
    if start_time + (count - 1) * interval + duration > now:
        raise Invalid({"start_time": ["Historical sessions must all have ended by now."]})
    summary = body.get("summary")
    transcribed = as_bool(body["transcribed"]) if body.get("transcribed") is not None else summary is not None
    sessions = call.state.add_history(
        room,
        start_time=start_time,
        duration=duration,
        interval=interval,
        count=count,
        participants=int(body.get("participants") or 2),
        transcribed=transcribed,
        summary=summary,
    )
    return {"created": len(sessions), "ids": [s.id for s in sessions]}


def complete_summary(call: Call) -> Any:
    """`{"summary": text}`, or no body for a canned multi-paragraph summary."""
    session = call.state.find_session(call.path("session"))
    rules = Rules(call.body)
    rules.string("summary")
    check(rules.errors)
    return summary_json(call.state.complete_summary(session, call.body.get("summary") or CANNED_SUMMARY))


def add_recording(call: Call) -> Any:
    session = call.state.find_session(call.path("session"))
    rules = Rules(call.body)
    rules.string("name", max=255)
    check(rules.errors)
    return recording_json(call.state.create_recording(session, call.body.get("name")))


def _latest_session(call: Call) -> Session:
    room = call.room()
    sessions = call.state.find_sessions(room_id=room.id)
    if not sessions:
        raise Rejected("That room has had no meeting yet: someone has to join it first.")
    return sessions[-1]


def room_summary(call: Call) -> Any:
    """The kit's `sim summary <room>`: the room's latest session's summary is ready."""
    session = _latest_session(call)
    return summary_json(call.state.complete_summary(session, call.body.get("summary") or CANNED_SUMMARY))


def room_recording(call: Call) -> Any:
    """The kit's `sim recording <room>`: a recording of the room's latest session is ready."""
    return recording_json(call.state.create_recording(_latest_session(call), call.body.get("name")))


def vote(call: Call) -> Any:
    """`{"option": id or text, "voter"}`, or `{"answer", "voter"}` for free-text polls."""
    poll = call.state.find_poll(call.path("poll"))
    choice_field = "answer" if poll.type == "free" else "option"
    rules = Rules(call.body)
    rules.string("voter", required=True, max=100)
    rules.string(choice_field, required=True, max=255)
    check(rules.errors)
    call.state.vote(poll, voter=call.body["voter"], choice=call.body[choice_field])
    return poll_results_json(poll)


def get_faults(call: Call) -> Any:
    return asdict(call.state.faults)


def put_faults(call: Call) -> Any:
    """Replace the fault settings: `{"latency_ms", "status", "count", "retry_after", "paths"}`."""
    body = call.body
    rules = Rules(body)
    rules.integer("latency_ms", min=0, max=60_000)
    rules.integer("status", min=400, max=599)
    rules.integer("count", min=1)
    rules.integer("retry_after", min=0, max=3600)
    rules.string("paths", min=1)
    check(rules.errors)
    numbers = {
        name: int(body[name])
        for name in ("latency_ms", "status", "count", "retry_after")
        if body.get(name) is not None
    }
    call.state.faults = Faults(**numbers, paths=body.get("paths"))
    return asdict(call.state.faults)


def clear_faults(call: Call) -> Any:
    call.state.faults = Faults()
    return no_content()


def get_config(call: Call) -> Any:
    return asdict(call.state.config)


def put_config(call: Call) -> Any:
    """Change the options named in the body; `summary_ready_after_polls: null` turns that off."""
    body, config = call.body, call.state.config
    rules = Rules(body)
    for name in body.keys() - asdict(config).keys():
        rules.fail(name, "Unknown sandbox option.")
    rules.integer("summary_ready_after_polls", min=0)
    if "webhook_retry_delay" in body:
        rules.number("webhook_retry_delay", min=0, max=60, required=True)
    check(rules.errors)
    if "summary_ready_after_polls" in body:
        value = body["summary_ready_after_polls"]
        config.summary_ready_after_polls = None if value is None else int(value)
    if "webhook_retry_delay" in body:
        config.webhook_retry_delay = float(body["webhook_retry_delay"])
    return asdict(config)


def get_requests(call: Call) -> Any:
    return [asdict(entry) for entry in call.state.requests]


def clear_requests(call: Call) -> Any:
    call.state.requests.clear()
    return no_content()


def get_deliveries(call: Call) -> Any:
    return [asdict(delivery) for delivery in call.state.deliveries]


def get_state(call: Call) -> Any:
    return call.state.snapshot()


def reset(call: Call) -> Any:
    call.state.reset()
    return no_content()


def _route(path: str, handler: Handler, method: str) -> Route:
    return Route("/_sandbox" + path, control_endpoint(handler), methods=[method])


routes = [
    _route("/rooms/{room}/join", join, "POST"),
    _route("/rooms/{room}/leave", leave, "POST"),
    _route("/rooms/{room}/end", end, "POST"),
    _route("/rooms/{room}/summary", room_summary, "POST"),
    _route("/rooms/{room}/recording", room_recording, "POST"),
    _route("/sessions", add_history, "POST"),
    _route("/sessions/{session}/summary", complete_summary, "POST"),
    _route("/sessions/{session}/recording", add_recording, "POST"),
    _route("/polls/{poll}/votes", vote, "POST"),
    _route("/faults", get_faults, "GET"),
    _route("/faults", put_faults, "PUT"),
    _route("/faults", clear_faults, "DELETE"),
    _route("/config", get_config, "GET"),
    _route("/config", put_config, "PUT"),
    _route("/requests", get_requests, "GET"),
    _route("/requests", clear_requests, "DELETE"),
    _route("/deliveries", get_deliveries, "GET"),
    _route("/state", get_state, "GET"),
    _route("/reset", reset, "POST"),
]
