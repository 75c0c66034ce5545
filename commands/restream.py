"""Livestreams: Go live asks where to and the stream key; the room message shows the stream until Stop.

Each start and stop is claimed in the database first (idle -> starting, live ->
stopping), so a double click makes one API call; a failed call rolls the claim
back. The stream key goes to the room's provider and nowhere else: not to a message,
a log line, an error or the database.
"""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.text import mrkdwn_escape
from bot.errors import (BadInput, MeetopsError, ProviderError, ProviderGone, ProviderNotFound, ProviderRejected,
                        ProviderUnavailable)
from bot.interactions import (
    accept_submission,
    answer_room_button,
    modal_metadata,
    open_modal,
    open_room_form,
    submitted_values,
)
from bot.logs import secret_filter
from bot.meetings import as_provider_room, refresh_room_message, require_moderator
from bot.providers.base import Capability, RestreamTarget
from bot.restream_blocks import StreamTarget, restream_modal, target_from_form
from bot.services import Services
from commands.router import Invocation, Router, Subcommand, start_or_stop
from storage import restreams, rooms
from storage.restreams import IDLE, LIVE, STARTING, STOPPING
from storage.rooms import RoomRecord

START, STOP = "start a livestream", "stop the livestream"


def _without_key(error: Exception, key: str) -> Exception:
    """The error to show, with the stream key blanked out should the provider have quoted it."""
    text = error.user_message if isinstance(error, MeetopsError) else str(error)
    if key not in text and key not in str(error):
        return error
    if isinstance(error, ProviderError):
        return type(error)(text.replace(key, "[stream key]"), status=error.status)
    return MeetopsError("Starting the stream failed. Please check the stream key and try again.")


async def start_stream(services: Services, room: RoomRecord, user_id: str, target: StreamTarget) -> str | None:
    """Start streaming the room; returns what to tell the person (None: another click is already on it)."""
    secret_filter.add(target.stream_key)  # masked in every log line, should one ever quote it
    provider = services.provider(room)
    provider.require(Capability.RESTREAM, as_provider_room(room))
    require_moderator(services, room, user_id, START)
    if not restreams.claim(services.db, room.id, from_state=IDLE, to_state=STARTING, destination=target.label,
                           started_by=user_id, started_at=services.clock().isoformat(timespec="seconds")):
        current = restreams.get(services.db, room.id)
        if current.state == LIVE:
            return _already(room, current) + "."
        return None
    try:
        started = await provider.start_restream(as_provider_room(room), RestreamTarget(
            label=target.label, stream_key=target.stream_key, type=target.type, server_url=target.server_url))
    except ProviderGone:
        # The meeting ended while the form was open (or just before the click).
        restreams.settle(services.db, room.id, IDLE)
        raise ProviderGone(f"The meeting in *{mrkdwn_escape(room.name)}* has ended, so there is nothing to stream; "
                           "start it again (join the room) and Go live.") from None
    except ProviderUnavailable as exc:
        # No answer in time: the platform may have started it anyway, and Stop asks it whatever meetops believes.
        restreams.settle(services.db, room.id, IDLE)
        raise ProviderUnavailable(f"{exc.user_message} The stream may have started anyway: "
                                  f"`/meet restream {room.friendly_url} stop` stops it if so.") from None
    except Exception as exc:
        restreams.settle(services.db, room.id, IDLE)
        raise _without_key(exc, target.stream_key) from None
    restreams.settle(services.db, room.id, LIVE, in_meeting=0 if started.live else 1)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="restream.start", room_id=room.id,
                destination=target.label)
    await refresh_room_message(services, room)
    if not started.live:
        return (f":satellite_antenna: {mrkdwn_escape(target.label)} is set up as the stream destination of "
                f"*{mrkdwn_escape(room.name)}*. {started.note or 'Start the stream from the meeting itself.'} "
                f"Remove it with *Remove destination* on the room message or "
                f"`/meet restream {room.friendly_url} stop`.")
    return (f":satellite_antenna: *{mrkdwn_escape(room.name)}* is streaming live to {mrkdwn_escape(target.label)}. "
            f"Stop it with *Stop stream* on the room message or `/meet restream {room.friendly_url} stop`.")


def _already(room: RoomRecord, current: restreams.Restream) -> str:
    """What the room streams to now: a stream running, or a destination the meeting streams to once started."""
    where = mrkdwn_escape(current.destination or "its destination")
    if current.in_meeting:
        return f"*{mrkdwn_escape(room.name)}* already has {where} as its stream destination"
    return f"*{mrkdwn_escape(room.name)}* is already streaming live to {where}"


async def stop_stream(services: Services, room: RoomRecord, user_id: str) -> str | None:
    """Stop the room's stream; returns what to tell the person (None: another click is already on it)."""
    provider = services.provider(room)
    provider.require(Capability.RESTREAM, as_provider_room(room))
    require_moderator(services, room, user_id, STOP)
    stopping = restreams.get(services.db, room.id)
    if not restreams.claim(services.db, room.id, from_state=LIVE, to_state=STOPPING):
        if restreams.get(services.db, room.id).state in (STARTING, STOPPING):
            return None
        return await _stop_unknown(services, room, user_id)
    try:
        await provider.stop_restream(as_provider_room(room))
    except ProviderGone:
        # The meeting ended, and its stream with it: the message must stop saying live.
        restreams.settle(services.db, room.id, IDLE)
        await refresh_room_message(services, room)
        return (f"The meeting in *{mrkdwn_escape(room.name)}* has ended, and its livestream with it: there was "
                "nothing left to stop.")
    except ProviderRejected as exc:
        # The provider says there is nothing to stop (the session ended, say): the message must stop saying live.
        restreams.settle(services.db, room.id, IDLE)
        await refresh_room_message(services, room)
        raise ProviderRejected(f"{exc.user_message} I've marked the stream as stopped.", status=exc.status) from None
    except Exception:
        restreams.settle(services.db, room.id, LIVE)
        raise
    restreams.settle(services.db, room.id, IDLE)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="restream.stop", room_id=room.id)
    await refresh_room_message(services, room)
    if stopping.in_meeting:  # only a destination was set: nothing was streaming
        return (f"{mrkdwn_escape(stopping.destination or 'The stream destination')} is no longer the stream "
                f"destination of *{mrkdwn_escape(room.name)}*.")
    return f"The livestream from *{mrkdwn_escape(room.name)}* has stopped."


async def _stop_unknown(services: Services, room: RoomRecord, user_id: str) -> str | None:
    """Stop asked for where meetops knows of no stream: the platform may know better (a start whose answer never
    came, a restart in between), so it is asked to stop anyway, and says whether one was running."""
    provider = services.provider(room)
    if not restreams.claim(services.db, room.id, from_state=IDLE, to_state=STOPPING):
        return None
    try:
        await provider.stop_restream(as_provider_room(room))
    except (ProviderGone, ProviderNotFound, ProviderRejected):
        return f"*{mrkdwn_escape(room.name)}* is not streaming."
    finally:
        restreams.settle(services.db, room.id, IDLE)
    rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="restream.stop", room_id=room.id)
    return f"The livestream from *{mrkdwn_escape(room.name)}* has stopped."


async def ready_to_go_live(services: Services, room: RoomRecord) -> None:
    """Say what stands in the way before the form asks for a stream key: a stream already running, or an
    empty room (checked with the provider when it answers quickly)."""
    provider = services.provider(room)
    provider.require(Capability.RESTREAM, as_provider_room(room))
    current = restreams.get(services.db, room.id)
    if current.state == LIVE:
        undo = "Remove it" if current.in_meeting else "Stop it"
        raise BadInput(f"{_already(room, current)}. {undo} first with `/meet restream {room.friendly_url} stop`.")
    if Capability.LIVE_STATUS not in provider.capabilities:
        return  # can't tell: the provider refuses a start (or the meeting starts it) itself
    try:
        # Bounded: the form must open while Slack's trigger is still valid (3 s).
        session = await asyncio.wait_for(provider.live_session(as_provider_room(room)), timeout=1.5)
    except (asyncio.TimeoutError, ProviderError):
        return  # can't tell in time; the provider refuses the start if the room is empty
    if session is None:
        raise BadInput(f"Nobody is in *{mrkdwn_escape(room.name)}* yet, and a stream needs a live meeting. "
                       "Join the room first, then Go live.")


async def restream_command(inv: Invocation) -> None:
    words, stop = start_or_stop(inv.args)
    if not words:
        raise BadInput("Which room? `/meet restream standup` goes live; `/meet restream standup stop` stops.")
    room = await inv.room(" ".join(words))
    if stop:
        text = await stop_stream(inv.services, room, inv.user_id)
        if text:
            await inv.reply(text)
        return
    require_moderator(inv.services, room, inv.user_id, START)
    await ready_to_go_live(inv.services, room)
    await open_modal(inv.services, inv.trigger_id,
                     restream_modal(room.name, modal_metadata(channel=inv.channel_id, room=room.id)))


async def on_start(services: Services) -> None:
    restreams.recover_interrupted(services.db)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("restream", restream_command, "/meet restream <room> [stop]",
                          "stream the room live to YouTube, Vimeo, Cloudflare or an RTMP server, or stop (moderators)"))

    @app.action(ids.GO_LIVE)
    async def go_live_clicked(ack, body, action, services) -> None:
        await ack()
        await open_room_form(services, body, action, START, restream_modal, precheck=ready_to_go_live)

    @app.view(ids.RESTREAM_MODAL)
    async def restream_submitted(ack, body, view, services) -> None:
        target, errors = target_from_form(submitted_values(view))
        sent = await accept_submission(ack, services, body, errors, START)
        if sent is not None:
            await sent.reply(services, await start_stream(services, sent.room, sent.user_id, target))

    @app.action(ids.STOP_STREAM)
    async def stop_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond,
                                 lambda room, user_id, _channel: stop_stream(services, room, user_id))
