"""Recording from Slack, on providers that can (Capability.RECORDING): **Record** / **Stop recording** on the
room message and `/meet record <room> [stop]`, for the room's moderators; and the **Get recording** button
under a recording-ready post in the room's thread, which asks the provider for a fresh link (download
links may expire) and shows it to the person who clicked only.

Each start and stop is claimed in the database first (idle -> starting, on -> stopping), so racing clicks
make one API call; a failed call rolls the claim back. A button's second click within a moment of the
first (a double click, however fast the first was handled) is the same click: no call, no message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.errors import BadInput, MeetopsError, ProviderGone, ProviderNotFound, ProviderRejected, ProviderUnavailable
from bot.interactions import answer_room_button, user_and_team
from bot.meetings import (as_provider_room, refresh_room_message, require_meeting_ahead, require_moderator,
                          visible_here)
from bot.messaging import send_private
from bot.providers.base import Capability
from bot.services import Services
from bot.text import mrkdwn_escape
from commands.router import Invocation, Router, Subcommand, start_or_stop
from storage import recording_state, rooms
from storage import webhooks as recordings
from storage.recording_state import IDLE, ON, STARTING, STOPPING
from storage.rooms import RoomRecord

START, STOP = "start a recording", "stop the recording"
DOUBLE_CLICK_SECONDS = 2.0


@asynccontextmanager
async def first_click(services: Services, key: str) -> AsyncIterator[bool]:
    """False for a click while the same one is being handled or within DOUBLE_CLICK_SECONDS of its start."""
    if key in services.in_flight:
        yield False
        return
    services.in_flight.add(key)
    started = time.monotonic()
    try:
        yield True
    finally:
        left = DOUBLE_CLICK_SECONDS - (time.monotonic() - started)
        if left > 0:
            asyncio.get_running_loop().call_later(left, services.in_flight.discard, key)
        else:
            services.in_flight.discard(key)


async def _once(services: Services, key: str, act) -> str | None:
    async with first_click(services, key) as first:
        return await act() if first else None


async def start_recording(services: Services, room: RoomRecord, user_id: str) -> str | None:
    """Start recording the room's meeting; returns what to tell the person (None: a click is already on it)."""
    provider = services.provider(room)
    provider.require(Capability.RECORDING, as_provider_room(room))
    require_moderator(services, room, user_id, START)
    require_meeting_ahead(services, room)
    if not recording_state.claim(services.db, room.id, from_state=IDLE, to_state=STARTING, started_by=user_id,
                                 started_at=services.clock().isoformat(timespec="seconds")):
        if recording_state.get(services.db, room.id).state == ON:
            return f"*{mrkdwn_escape(room.name)}* is already being recorded."
        return None
    try:
        await provider.start_recording(as_provider_room(room))
    except ProviderGone:
        # No meeting running: it ended, or nobody has joined yet. The provider's own words can only guess which.
        recording_state.settle(services.db, room.id, IDLE)
        raise ProviderGone(f"There is no meeting running in *{mrkdwn_escape(room.name)}* right now, so there is "
                           "nothing to record. Start the recording once people have joined.") from None
    except ProviderUnavailable as exc:
        # No answer in time: the platform may have started it anyway, and Stop asks it whatever meetops believes.
        recording_state.settle(services.db, room.id, IDLE)
        raise ProviderUnavailable(f"{exc.user_message} The recording may have started anyway: "
                                  f"`/meet record {room.friendly_url} stop` stops it if so.") from None
    except BaseException:
        recording_state.settle(services.db, room.id, IDLE)
        raise
    recording_state.settle(services.db, room.id, ON)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="recording.start", room_id=room.id)
    await refresh_room_message(services, room)
    return (f":record_button: *{mrkdwn_escape(room.name)}* is being recorded. Stop it with *Stop recording* on the "
            f"room message or `/meet record {room.friendly_url} stop`. When the recording is ready, the room's "
            "thread says so, with a way to download it.")


async def stop_recording(services: Services, room: RoomRecord, user_id: str) -> str | None:
    """Stop the room's recording; returns what to tell the person (None: a click is already on it)."""
    provider = services.provider(room)
    provider.require(Capability.RECORDING, as_provider_room(room))
    require_moderator(services, room, user_id, STOP)
    if not recording_state.claim(services.db, room.id, from_state=ON, to_state=STOPPING):
        if recording_state.get(services.db, room.id).state in (STARTING, STOPPING):
            return None
        return await _stop_unknown(services, room, user_id)
    try:
        await provider.stop_recording(as_provider_room(room))
    except (ProviderGone, ProviderNotFound, ProviderRejected) as exc:
        # The meeting is over (its recording stopped with it), or there was nothing to stop: the message
        # must stop saying "Recording" either way.
        recording_state.settle(services.db, room.id, IDLE)
        await refresh_room_message(services, room)
        raise type(exc)(f"{exc.user_message} I've marked the recording as stopped.", status=exc.status) from None
    except BaseException:
        recording_state.settle(services.db, room.id, ON)
        raise
    recording_state.settle(services.db, room.id, IDLE)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="recording.stop", room_id=room.id)
    await refresh_room_message(services, room)
    return (f"The recording of *{mrkdwn_escape(room.name)}* has stopped. When it is ready, the room's thread says "
            "so, with a way to download it.")


async def _stop_unknown(services: Services, room: RoomRecord, user_id: str) -> str | None:
    """Stop asked for where meetops knows of no recording: the platform may know better (a start whose answer
    never came, a restart in between), so it is asked to stop anyway, and says whether one was running."""
    provider = services.provider(room)
    if not recording_state.claim(services.db, room.id, from_state=IDLE, to_state=STOPPING):
        return None
    try:
        await provider.stop_recording(as_provider_room(room))
    except (ProviderGone, ProviderNotFound, ProviderRejected):
        return f"*{mrkdwn_escape(room.name)}* is not being recorded."
    finally:
        recording_state.settle(services.db, room.id, IDLE)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="recording.stop", room_id=room.id)
    return (f"The recording of *{mrkdwn_escape(room.name)}* has stopped. When it is ready, the room's thread says "
            "so, with a way to download it.")


async def fresh_link(services: Services, recording_id: str, user_id: str, channel_id: str | None) -> str | None:
    """What the Get recording button shows its clicker: a link asked for now (None: a click is already on it)."""
    row = recordings.recording(services.db, recording_id)
    room = rooms.get(services.db, row["room_id"]) if row else None
    if room is None or not visible_here(services, room, user_id, channel_id or ""):
        raise MeetopsError("I no longer know that recording. Ask a moderator of its room.")
    provider = services.provider(room)
    provider.require(Capability.RECORDING_LINKS)
    async with first_click(services, f"click:{ids.GET_RECORDING}:{recording_id}:{user_id}") as first:
        if not first:
            return None
        try:
            link = await provider.recording_link(recording_id)
        except ProviderNotFound:
            raise ProviderNotFound(f"{provider.title} can't find that recording of *{mrkdwn_escape(room.name)}* any "
                                   "more (it may have been deleted there).") from None
    if not link:
        raise MeetopsError(f"{provider.title} has no link for that recording yet. Please try again in a minute.")
    return (f":movie_camera: Here is the recording of *{mrkdwn_escape(room.name)}*: <{link}|download it>. "
            "The link works for a limited time; click *Get recording* again for a fresh one.")


async def record_command(inv: Invocation) -> None:
    words, stop = start_or_stop(inv.args)
    if not words:
        raise BadInput("Which room? `/meet record standup` starts recording; `/meet record standup stop` stops.")
    room = await inv.room(" ".join(words))
    act = stop_recording if stop else start_recording
    text = await act(inv.services, room, inv.user_id)
    if text:
        await inv.reply(text)


async def on_start(services: Services) -> None:
    recording_state.recover_interrupted(services.db)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("record", record_command, "/meet record <room> [stop]",
                          "record the room's meeting, or stop (moderators; where the platform can)"))

    @app.action(ids.RECORD)
    async def record_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond, lambda room, user_id, _channel: _once(
            services, f"click:{ids.RECORD}:{room.id}:{user_id}", lambda: start_recording(services, room, user_id)))

    @app.action(ids.STOP_RECORDING)
    async def stop_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond, lambda room, user_id, _channel: _once(
            services, f"click:{ids.STOP_RECORDING}:{room.id}:{user_id}", lambda: stop_recording(services, room, user_id)))

    @app.action(ids.GET_RECORDING)
    async def get_recording_clicked(ack, body, action, services, respond) -> None:
        await ack()
        user_id, _ = user_and_team(body)
        channel_id = (body.get("channel") or {}).get("id")
        text = await fresh_link(services, str(action.get("value") or ""), user_id, channel_id)
        if text:
            await send_private(services, user_id=user_id, channel_id=channel_id, text=text, respond=respond)
