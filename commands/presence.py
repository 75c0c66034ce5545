"""Who is in a meeting, on platforms that can say it when asked but send no participant events.

One scheduler job (`presence`, every MEETOPS_PRESENCE_SECONDS) asks each such platform about the rooms
that may be live: those meetops believes live, and those someone got a join link to recently. A count
that changed, a meeting that started or ended, is written to the room and the session log and the room
message is redrawn. Rooms on platforms with participant webhooks are left to the webhooks; with nobody
to watch the job does nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_bolt.async_app import AsyncApp

from bot.errors import MeetopsError
from bot.meetings import as_provider_room, refresh_room_message
from bot.providers.base import Capability
from bot.services import Services
from commands.router import Router
from storage import recording_state, restreams, rooms
from storage import sessions as session_log
from storage.records import fetch

log = logging.getLogger(__name__)

JOB_ID = "presence"
RECENT_JOIN = timedelta(hours=12)  # a link handed out this recently may have started a meeting


def watched(services: Services, provider) -> bool:
    return Capability.LIVE_STATUS in provider.capabilities and not provider.participant_events


def rooms_to_ask(services: Services) -> list[rooms.RoomRecord]:
    since = (services.clock() - RECENT_JOIN).isoformat(timespec="seconds")
    rows = fetch(services.db,
        "select * from rooms where status = 'live' or (status in ('open', 'ended') and id in "
        "(select room_id from audit_log where action = 'room.join' and at >= ?))", [since])
    found = []
    for row in rows:
        room = rooms.RoomRecord.from_row(row)
        try:
            provider = services.provider(room)
        except MeetopsError:
            continue
        if watched(services, provider):
            found.append(room)
    return found


async def check_presence(services: Services) -> None:
    for room in rooms_to_ask(services):
        provider = services.provider(room)
        try:
            session = await provider.live_session(as_provider_room(room))
        except MeetopsError as exc:
            log.info("presence of room %s not known now: %s", room.id, exc.user_message)
            continue
        now = services.clock().isoformat(timespec="seconds")
        if session is not None:
            if room.status == "live" and room.participants == session.participants:
                continue
            started = (session.started_at.isoformat(timespec="seconds") if session.started_at
                       else room.session_started_at or now)
            session_log.started(services.db, provider=provider.name, session_id=session.id, room_id=room.id,
                                at=started, participants=session.participants)
            session_log.set_participants(services.db, provider.name, session.id, session.participants)
            room = rooms.update(services.db, room.id, status="live", session_id=session.id,
                                participants=session.participants, session_started_at=started,
                                session_ended_at=None, ended_by=None)
        elif room.status == "live":
            if room.session_id:
                session_log.ended(services.db, provider=provider.name, session_id=room.session_id, room_id=room.id,
                                  at=now, started_at=room.session_started_at, participants=room.participants)
            restreams.stop_all_in_room(services.db, room.id)
            recording_state.stop(services.db, room.id)  # a recording ends with its meeting too
            room = rooms.update(services.db, room.id, status="ended", session_ended_at=now)
        else:
            continue
        await refresh_room_message(services, room)


async def on_start(services: Services) -> None:
    if not any(watched(services, p) for p in services.providers.providers.values()):
        return
    # max_instances=1 (the runtime's default): a slow round never overlaps the next.
    services.scheduler.add_job(check_presence, "interval", seconds=services.settings.meetops_presence_seconds,
                               args=[services], id=JOB_ID, replace_existing=True)


def register(app: AsyncApp, router: Router) -> None:
    """Nothing on the Slack side: a scheduled job only."""
