"""Room messages that say "Live" (or "Streaming") after the meeting ended: its webhook was lost, typically
while meetops was down. At start-up every room the database believes live or streaming is checked with
its provider, and `/meet live` and `/meet end` correct one when they come across it.

Only providers that can be asked (`Capability.LIVE_STATUS`) are; the others' rooms keep what their
webhooks said.
"""

from __future__ import annotations

import logging

from bot.errors import MeetopsError, ProviderError
from bot.meetings import as_provider_room, refresh_room_message
from bot.providers.base import Capability, Provider
from bot.services import Services
from commands import summaries
from storage import recording_state, restreams, rooms
from storage import sessions as session_log
from storage.rooms import RoomRecord
from storage.records import fetch

log = logging.getLogger(__name__)


def believed_live(services: Services, provider: str, team_id: str | None = None) -> list[RoomRecord]:
    """The provider's rooms whose message says a meeting or a stream is running."""
    rows = fetch(services.db,
        "select * from rooms where provider = ? and status != 'deleted' and (? is null or team_id = ?) and "
        "(status = 'live' or id in (select room_id from restreams where state = 'live'))",
        [provider, team_id, team_id])
    return [RoomRecord.from_row(r) for r in rows]


def is_stale(services: Services, room: RoomRecord, live_room_ids: set[str]) -> bool:
    return room.id not in live_room_ids and (
        room.status == "live" or restreams.get(services.db, room.id).state == restreams.LIVE)


async def correct(services: Services, provider: Provider, room: RoomRecord) -> RoomRecord:
    """The provider has no meeting running in `room`: record the end (and the stream's), correct the room
    message, and start waiting for the summary, as the lost webhook would have."""
    if restreams.get(services.db, room.id).state == restreams.LIVE:
        restreams.stop_all_in_room(services.db, room.id)  # a stream ends with its meeting
    recording_state.stop(services.db, room.id)  # and so does a recording
    if room.status == "live":
        now = services.clock().isoformat(timespec="seconds")
        session_id = room.session_id or f"{room.id}@{room.session_started_at or now}"
        ended_at = await _ended_at(provider, room) or now
        session_log.ended(services.db, provider=provider.name, session_id=session_id, room_id=room.id, at=ended_at,
                          started_at=room.session_started_at, participants=room.participants)
        room = rooms.update(services.db, room.id, status="ended", session_id=session_id, session_ended_at=ended_at,
                            ended_by=None)
        if Capability.SUMMARIES in provider.capabilities:
            summaries.session_over(services, room, session_id)
    log.info("room %s: its meeting ended unseen (no webhook); corrected its message", room.id)
    await refresh_room_message(services, room)
    return room


async def _ended_at(provider: Provider, room: RoomRecord) -> str | None:
    """When the meeting really ended, if the provider keeps a history of them."""
    if Capability.SESSION_HISTORY not in provider.capabilities:
        return None
    try:
        session = await provider.latest_session(as_provider_room(room))
    except (MeetopsError, NotImplementedError):
        return None
    if session is None or session.live or session.ended_at is None or (room.session_id and session.id != room.session_id):
        return None
    return session.ended_at.isoformat(timespec="seconds")


async def correct_stale(services: Services, provider: Provider, live_room_ids: set[str],
                        team_id: str | None = None) -> list[RoomRecord]:
    """Correct every room of `provider` (of `team_id`) believed live but not among `live_room_ids`."""
    corrected = []
    for room in believed_live(services, provider.name, team_id):
        if is_stale(services, room, live_room_ids):
            corrected.append(await correct(services, provider, room))
    return corrected


async def reconcile_all(services: Services) -> int:
    """At start-up: every room believed live or streaming, checked with its provider (one list call each)."""
    count = 0
    for provider in services.providers.with_capability(Capability.LIVE_STATUS):
        if not believed_live(services, provider.name):
            continue
        try:
            live = {room.room_id async for room in provider.iter_live_rooms()}
        except ProviderError as exc:
            log.warning("could not ask %s which rooms are live (%s); room messages keep their state",
                        provider.title, exc.user_message)
            continue
        count += len(await correct_stale(services, provider, live))
    if count:
        log.warning("%d room message(s) said live after their meeting ended; corrected", count)
    return count
