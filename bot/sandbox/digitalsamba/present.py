"""The JSON shapes Digital Samba answers with, one function per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from .models import Participant, Poll, Recording, Room, Session, Summary, Webhook, iso


def _seconds_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def room_json(room: Room, base_url: str) -> dict[str, Any]:
    return {
        "id": room.id,
        "friendly_url": room.friendly_url,
        "description": room.description,
        "privacy": room.privacy,
        "room_url": f"{base_url}/r/{room.friendly_url}",
        "external_id": room.external_id,
        "default_role": room.default_role,
        "roles": list(room.roles),
        "max_participants": room.max_participants,
        "session_length": room.session_length,
        "tags": list(room.tags),
        "expires_at": iso(room.expires_at),
        **room.flags,
        "created_at": iso(room.created_at),
        "updated_at": iso(room.updated_at),
    }


def live_json(room: Room, session: Session | None, now: datetime) -> dict[str, Any]:
    """GET /rooms/live items and GET /rooms/{room}/live; a room nobody is in reads as zero."""
    return {
        "id": room.id,
        "external_id": room.external_id,
        "start_time": iso(session.start_time) if session else None,
        "session_duration": _seconds_between(session.start_time, now) if session else 0,
        "live_participants": len(session.live_participants) if session else 0,
    }


def session_json(session: Session) -> dict[str, Any]:
    room = session.room
    return {
        "id": session.id,
        "start_time": iso(session.start_time),
        "end_time": iso(session.end_time),
        "room_id": room.id,
        "room_external_id": room.external_id,
        "description": room.description,
        "friendly_url": room.friendly_url,
        "room_is_deleted": room.deleted,
        "participants_live": len(session.live_participants),
        "participants_total": session.participants_total,
        "participants_max": session.participants_max,
        "live": session.live,
    }


def session_statistics_json(session: Session, now: datetime) -> dict[str, Any]:
    room = session.room
    return {
        "room_id": room.id,
        "room_external_id": room.external_id,
        "room_description": room.description,
        "room_friendly_url": room.friendly_url,
        "room_privacy": room.privacy,
        "room_max_participants": room.max_participants,
        "room_is_deleted": room.deleted,
        "session_id": session.id,
        "session_live": session.live,
        "session_start_time": iso(session.start_time),
        "session_end_time": iso(session.end_time),
        "session_duration": _seconds_between(session.start_time, session.end_time or now),
        "live_participants": len(session.live_participants),
        "active_participants": session.participants_total,
        "max_concurrent_participants": session.participants_max,
    }


def participant_json(participant: Participant) -> dict[str, Any]:
    return {
        "id": participant.id,
        "external_id": participant.external_id,
        "name": participant.name,
        "role": participant.role,
        "join_time": iso(participant.join_time),
    }


def summary_json(summary: Summary) -> dict[str, Any]:
    return {"job_id": summary.job_id, "status": summary.status, "summary": summary.text}


def poll_json(poll: Poll, *, with_options: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": poll.id,
        "question": poll.question,
        "status": poll.status,
        "multiple": poll.type == "multiple",  # responses still say `multiple`, not `type`
        "anonymous": poll.anonymous,
    }
    if with_options:
        body["options"] = [{"id": o.id, "text": o.text} for o in poll.options]
    body["created_at"] = iso(poll.created_at)
    return body


def _answer_id(poll: Poll, answer: str | None) -> str:
    # Free-text answers have no option ids; derive stable ones so clients can key on them.
    return str(uuid5(NAMESPACE_URL, f"sandbox-answer:{poll.id}:{answer}"))


def poll_results_json(poll: Poll) -> dict[str, Any]:
    """One entry of GET .../results. Free-text answers are reported as one option per answer."""
    if poll.type == "free":
        answers = dict.fromkeys(v.answer for v in poll.votes)
        groups = [
            (_answer_id(poll, answer), answer, [v for v in poll.votes if v.answer == answer])
            for answer in answers
        ]
    else:
        groups = [(o.id, o.text, [v for v in poll.votes if v.option_id == o.id]) for o in poll.options]
    options = []
    for option_id, text, votes in groups:
        option: dict[str, Any] = {"id": option_id, "text": text, "voted": len(votes)}
        if not poll.anonymous:
            option["voters"] = [{"id": v.voter_id, "name": v.voter_name} for v in votes]
        options.append(option)
    return {
        "id": poll.id,
        "session_id": poll.session_id,
        "question": poll.question,
        "status": poll.status,
        "started": iso(poll.started),
        "ended": iso(poll.ended),
        "votes": len(poll.votes),
        "options": options,
    }


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "endpoint": webhook.endpoint,
        "name": webhook.name,
        "authorization_header": webhook.authorization_header,
        "events": list(webhook.events),
        "created_at": iso(webhook.created_at),
        "updated_at": iso(webhook.updated_at),
    }


def recording_json(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "name": recording.name,
        "status": recording.status,
        "room_id": recording.room.id,
        "session_id": recording.session_id,
        "friendly_url": recording.room.friendly_url,
        "created_at": iso(recording.created_at),
    }
