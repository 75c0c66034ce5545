"""Rooms: the channel's standing room, named rooms, listing them, and ending a session."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.blocks import room_message_blocks, room_message_text, superseded_message_blocks
from bot.text import mrkdwn_escape, people, plural
from bot.errors import BadInput, ProviderNotFound, ProviderRejected, RoomDeleted
from bot.meetings import check_still_exists, refresh_room_message, require_moderator, streaming_to, visible_here
from bot.interactions import answer_room_button
from bot.messaging import cannot_post, once_at_a_time, slack_error
from bot.names import friendly_url_for, slugify, with_suffix
from bot.providers.base import Room
from bot.services import Services
from commands import summaries
from commands.router import Invocation, Router, Subcommand
from storage import restreams, rooms
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

MAX_SUFFIX = 50


async def create_room(services: Services, *, team_id: str, channel_id: str, user_id: str, name: str,
                      slug: str, description: str, private: bool) -> RoomRecord:
    """Create the room with a free link name (suffixing on collision) and remember it."""
    taken = rooms.friendly_urls_in_use(services.db, team_id)
    for n in range(1, MAX_SUFFIX + 1):
        candidate = slug if n == 1 else with_suffix(slug, n)
        if candidate in taken:
            continue
        try:
            created = await services.meetings.create_room(
                friendly_url=candidate, description=description, private=private,
                external_id=f"slack:{team_id}:{channel_id}")
        except ProviderRejected as exc:
            # Taken by a room meetops didn't make (or made a moment ago): a new, different request.
            if "friendly_url" in exc.errors:
                continue
            raise
        return rooms.insert(services.db, _record(created, team_id=team_id, channel_id=channel_id,
                                                 user_id=user_id, name=name))
    raise BadInput(f"Every link name from `{slug}` to `{with_suffix(slug, MAX_SUFFIX)}` is taken. Pick another name.")


def _record(room: Room, *, team_id: str, channel_id: str, user_id: str, name: str) -> RoomRecord:
    return RoomRecord(id=room.id, team_id=team_id, channel_id=channel_id, creator_id=user_id, name=name,
                      friendly_url=room.friendly_url, room_url=room.room_url, privacy=room.privacy,
                      description=room.description)


async def post_room_message(inv: Invocation, room: RoomRecord, intro: str) -> None:
    """Post the room message in the channel and remember where it is; an older one points to it."""
    services = inv.services
    try:
        posted = await inv.client.chat_postMessage(
            channel=inv.channel_id, text=room_message_text(room),
            blocks=room_message_blocks(room, sandbox=services.sandbox, streaming_to=streaming_to(services, room.id)))
    except SlackApiError as exc:
        log.info("could not post the room message in %s: %s", inv.channel_id, slack_error(exc))
        await inv.reply(f"{intro}, but: {cannot_post(inv.channel_id, exc)} Meanwhile, "
                        f"`/meet join {room.friendly_url}` gets you in.")
        return
    rooms.update(services.db, room.id, message_channel=posted["channel"], message_ts=posted["ts"])
    if room.message_ts and room.message_channel:
        # Only the newest message follows the room; the older one must not show a stale state.
        try:
            await inv.client.chat_update(channel=room.message_channel, ts=room.message_ts,
                                         text=room_message_text(room), blocks=superseded_message_blocks(room))
        except SlackApiError as exc:
            log.info("could not retire the older message of room %s: %s", room.id, slack_error(exc))


async def standing_room(inv: Invocation) -> None:
    services = inv.services
    # Two `/meet` at once in one channel must not both create its room.
    async with services.room_locks.setdefault(f"standing:{inv.team_id}:{inv.channel_id}", asyncio.Lock()):
        room = rooms.standing_room(services.db, inv.team_id, inv.channel_id)
        if room is not None:
            try:
                room = await check_still_exists(services, room)
            except RoomDeleted:  # deleted at the provider: give the channel a new one below
                room = None
        if room is None:
            channel = inv.channel_name if inv.channel_name not in ("", "directmessage", "privategroup") else "meeting"
            room = await create_room(services, team_id=inv.team_id, channel_id=inv.channel_id, user_id=inv.user_id,
                                     name=channel, slug=_standing_slug(channel),
                                     description=f"Standing meeting room of #{channel}", private=False)
            rooms.set_standing_room(services.db, inv.team_id, inv.channel_id, room.id)
            rooms.audit(services.db, team_id=inv.team_id, user_id=inv.user_id, action="room.create",
                        room_id=room.id, standing=True)
        elif room.status == "ended":
            # A new message for a new meeting: the last one's summary stays reachable with /meet summary.
            room = rooms.update(services.db, room.id, status="open", participants=0)
    await post_room_message(inv, room, f"The room *{mrkdwn_escape(room.name)}* is ready")


def _standing_slug(channel: str) -> str:
    slug = slugify(channel)[:32].rstrip("-")
    return slug if len(slug) >= 3 else f"{slug or 'room'}-room"


async def new_room(inv: Invocation) -> None:
    words = list(inv.args)
    private = bool(words) and words[-1].lower() == "private"
    if private:
        words.pop()
    name = " ".join(words).strip()
    if not name:
        raise BadInput('Give the room a name, for example `/meet new standup` or `/meet new "Design review" private`.')
    slug = friendly_url_for(name)
    room = await create_room(inv.services, team_id=inv.team_id, channel_id=inv.channel_id, user_id=inv.user_id,
                             name=name, slug=slug, description=name if len(name) >= 3 else f"Room {name}",
                             private=private)
    rooms.audit(inv.services.db, team_id=inv.team_id, user_id=inv.user_id, action="room.create", room_id=room.id,
                private=private)
    await post_room_message(inv, room, f"I created *{mrkdwn_escape(room.name)}*")


async def list_rooms(inv: Invocation) -> None:
    services = inv.services
    known = rooms.of_team(services.db, inv.team_id)
    lines = []
    async for room in services.meetings.iter_rooms():
        mine = known.get(room.id)
        if mine is not None and not visible_here(services, mine, inv.user_id, inv.channel_id):
            continue
        label = mrkdwn_escape(mine.name if mine else room.description or room.friendly_url)
        lock = " :lock:" if room.privacy == "private" else ""
        where = f" in <#{mine.channel_id}>" if mine and mine.channel_id and mine.channel_id != inv.channel_id else ""
        lines.append(f"• *{label}*{lock}  `{room.friendly_url}`{where}")
    if not lines:
        await inv.reply("There are no rooms yet. Start one with `/meet` or `/meet new <name>`.")
        return
    await inv.reply_list(f"*{plural(len(lines), 'room')}* (join one with `/meet join &lt;link name&gt;`):", lines)


async def live_rooms(inv: Invocation) -> None:
    services = inv.services
    lines = []
    async for live in services.meetings.iter_live_rooms():
        room = rooms.get(services.db, live.room_id)
        if room is not None and not visible_here(services, room, inv.user_id, inv.channel_id):
            continue
        if room is not None:
            name = room.name
        else:
            try:
                name = (await services.meetings.get_room(live.room_id)).friendly_url
            except ProviderNotFound:
                name = live.room_id
        lines.append((live.participants, f"• :red_circle: *{mrkdwn_escape(name)}*: {people(live.participants)}"))
    if not lines:
        await inv.reply("No room has a live session right now.")
        return
    lines.sort(key=lambda pair: -pair[0])
    await inv.reply_list(f"*{plural(len(lines), 'live room')}*:", [line for _, line in lines])


async def end_session(services: Services, room: RoomRecord, user_id: str) -> str:
    """End the room's live session; returns what to tell the person."""
    require_moderator(services, room, user_id, "end the session")
    async with once_at_a_time(services, f"end:{room.id}") as first:
        if not first:
            return f"Already ending the session in *{mrkdwn_escape(room.name)}*."
        session = await services.meetings.live_session(room.id)
        if session is None:
            return f"Nobody is in *{mrkdwn_escape(room.name)}* right now, so there is no session to end."
        await services.meetings.end_session(session.id)
        now = services.clock()
        started = session.started_at or now
        restreams.stop_all_in_room(services.db, room.id)  # a stream ends with its session
        if rooms.get(services.db, room.id):
            room = rooms.update(services.db, room.id, status="ended", session_id=session.id,
                                participants=session.participants, ended_by=user_id,
                                session_started_at=started.isoformat(timespec="seconds"),
                                session_ended_at=now.isoformat(timespec="seconds"))
            await refresh_room_message(services, room)
            # Its summary then lands in the thread by itself, webhooks or not.
            summaries.session_over(services, room, session.id)
        rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="session.end", room_id=room.id,
                    session_id=session.id)
        return f"The session in *{mrkdwn_escape(room.name)}* has ended."


async def end_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet end standup`.")
    room = await inv.room(" ".join(inv.args))
    await inv.reply(await end_session(inv.services, room, inv.user_id))


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("", standing_room, "/meet", "start (or reuse) this channel's room"), default=True)
    router.add(Subcommand("new", new_room, "/meet new <name> [private]",
                          "create a named room; `private` rooms need a personal link"))
    router.add(Subcommand("rooms", list_rooms, "/meet rooms", "list the team's rooms"))
    router.add(Subcommand("live", live_rooms, "/meet live", "rooms with a live session, and how many people are in each"))
    router.add(Subcommand("end", end_command, "/meet end <room>", "end the room's live session (moderators)"))

    @app.action(ids.END)
    async def end_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond,
                                 lambda room, user_id, _channel: end_session(services, room, user_id))
