"""Rooms: the channel's standing room, named rooms, listing them, and ending a session."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.blocks import room_message_text, superseded_message_blocks
from bot.text import mrkdwn_escape, people, plural
from bot.errors import BadInput, NameTaken, ProviderNotFound, RoomDeleted
from bot.meetings import (
    as_provider_room,
    check_still_exists,
    refresh_room_message,
    require_moderator,
    room_blocks,
    visible_here,
)
from bot.interactions import answer_room_button
from bot.messaging import cannot_post, once_at_a_time, slack_error
from bot.names import clean, friendly_url_for, slugify, with_suffix
from bot.providers.base import Capability, Provider, Room, RoomSpec
from bot.services import Services
from commands import invite, summaries
from commands.router import Invocation, Mention, Router, Subcommand, as_flag
from storage import restreams, rooms
from storage import sessions as session_log
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

MAX_SUFFIX = 50


async def create_room(services: Services, *, team_id: str, channel_id: str, user_id: str, name: str,
                      slug: str, description: str, private: bool, provider: Provider | None = None,
                      options: frozenset[str] = frozenset()) -> RoomRecord:
    """Create the room on its provider with a free link name (suffixing on collision) and remember it."""
    provider = provider or services.providers.default
    if private and Capability.PRIVATE_ROOMS not in provider.capabilities:
        raise provider.unsupported(Capability.PRIVATE_ROOMS)
    taken = rooms.friendly_urls_in_use(services.db, team_id)
    for n in range(1, MAX_SUFFIX + 1):
        candidate = slug if n == 1 else with_suffix(slug, n)
        if candidate.casefold() in taken:
            continue
        spec = RoomSpec(name=name, slug=candidate, description=description, private=private,
                        external_id=f"slack:{team_id}:{channel_id}", options=options)
        try:
            created = await provider.create_room(spec, idempotency_key=f"{team_id}:{channel_id}:{candidate}")
        except NameTaken:
            continue  # taken by a room meetops didn't make (or made a moment ago): try the next name
        return rooms.insert(services.db, _record(created, team_id=team_id, channel_id=channel_id,
                                                 user_id=user_id, name=name, provider=provider.name))
    raise BadInput(f"Every link name from `{slug}` to `{with_suffix(slug, MAX_SUFFIX)}` is taken. Pick another name.")


def _record(room: Room, *, team_id: str, channel_id: str, user_id: str, name: str, provider: str) -> RoomRecord:
    return RoomRecord(id=room.id, team_id=team_id, channel_id=channel_id, creator_id=user_id, name=name,
                      friendly_url=room.friendly_url, room_url=room.room_url, privacy=room.privacy,
                      description=room.description, provider=provider,
                      provider_data=rooms.provider_data(dict(room.extra), room.facts))


async def post_room_message(inv: Invocation, room: RoomRecord, intro: str) -> None:
    """Post the room message in the channel and remember where it is; an older one points to it."""
    services = inv.services
    try:
        posted = await inv.client.chat_postMessage(
            channel=inv.channel_id, text=room_message_text(room),
            blocks=room_blocks(services, room))
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


def parse_new(words: list[str], services: Services) -> tuple[str, bool, str | None, frozenset[str], list[str]]:
    """`/meet new <name> [private|--private] [--provider X] [--<provider option>] [@people]`:
    (name, private, provider name, options, invitees)."""
    private, provider_name, options, invitees, rest = False, None, set(), [], []
    known_options = {opt for p in services.providers.providers.values() for opt in p.plugin.room_options}
    it = iter(words)
    for word in it:
        flag = as_flag(word)
        if flag == "--private":
            private = True
        elif flag == "--provider":
            provider_name = next(it, None)
            if not provider_name:
                raise BadInput("Which provider? For example `/meet new standup --provider "
                               f"{services.providers.default_name}`.")
        elif flag is not None and flag[2:] in known_options:
            options.add(flag[2:])
        elif flag is not None:
            raise BadInput(f"I don't know `{mrkdwn_escape(flag[:40])}`. `/meet new` takes `--private`"
                           + (", `--provider <name>`" if len(services.providers.providers) > 1 else "")
                           + "".join(f", `--{o}`" for o in sorted(known_options)) + ".")
        elif isinstance(word, Mention):
            invitees.append(word.user_id)
        else:
            rest.append(word)
    if rest and rest[-1].lower() == "private":  # the older spelling, as the last word
        private = True
        rest.pop()
    return clean(" ".join(rest)), private, provider_name, frozenset(options), invitees


async def new_room(inv: Invocation) -> None:
    services = inv.services
    name, private, provider_name, options, invitees = parse_new(inv.args, services)
    if not name:
        raise BadInput('Give the room a name, for example `/meet new standup` or `/meet new "Design review" --private`.')
    if len(invitees) > invite.MAX_INVITES:
        raise invite.too_many(len(invitees))
    provider = services.providers.pick(provider_name)
    unknown = options - set(provider.plugin.room_options)
    if unknown:
        raise BadInput(f"`--{sorted(unknown)[0]}` isn't available on {provider.title} rooms.")
    existing = rooms.named_in_channel(services.db, inv.team_id, inv.channel_id, name)
    if existing is not None:
        # The same name again in the same channel: bring that room back rather than make a silent twin.
        await post_room_message(inv, existing, f"*{mrkdwn_escape(existing.name)}* already exists here")
        await inv.reply(f"*{mrkdwn_escape(existing.name)}* already exists in this channel, so I posted its room "
                        f"message again rather than make a second room with the same name. For another room, "
                        "pick another name.")
        if invitees:
            await invite.invite_and_report(inv, existing, invitees)
        return
    slug = friendly_url_for(name)
    room = await create_room(services, team_id=inv.team_id, channel_id=inv.channel_id, user_id=inv.user_id,
                             name=name, slug=slug, description=name if len(name) >= 3 else f"Room {name}",
                             private=private, provider=provider, options=options)
    rooms.audit(services.db, team_id=inv.team_id, user_id=inv.user_id, action="room.create", room_id=room.id,
                private=private, provider=provider.name)
    # The room message says which privacy the room got (and, when it isn't the only one, on which provider).
    await post_room_message(inv, room, f"I created *{mrkdwn_escape(room.name)}*")
    if invitees:
        await invite.invite_and_report(inv, room, invitees)


async def _all_rooms(services: Services):
    for provider in services.providers.providers.values():
        async for room in provider.iter_rooms():
            yield room


async def list_rooms(inv: Invocation) -> None:
    services = inv.services
    known = rooms.of_team(services.db, inv.team_id)
    lines = []
    async for room in _all_rooms(services):
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
    lines, seen, notes = [], set(), {}
    for provider in services.providers.with_capability(Capability.LIVE_STATUS):
        async for live in provider.iter_live_rooms():
            if provider.plugin.live_note:
                notes[provider.name] = provider.plugin.live_note
            room = rooms.by_provider_id(services.db, provider.name, live.room_id)
            if room is not None and not visible_here(services, room, inv.user_id, inv.channel_id):
                continue
            seen.add(live.room_id)
            if room is not None:
                name = room.name
            else:
                try:
                    name = (await provider.get_room(live.room_id)).friendly_url
                except ProviderNotFound:
                    name = live.room_id
            lines.append((live.participants, f"• :red_circle: *{mrkdwn_escape(name)}*: {people(live.participants)}"))
    # Rooms on providers that can't be asked, but whose webhooks told meetops they are live.
    for session in session_log.live_in(services.db):
        room = rooms.get(services.db, session.room_id)
        if (room is None or session.room_id in seen or room.team_id != inv.team_id
                or Capability.LIVE_STATUS in services.provider(room).capabilities
                or not visible_here(services, room, inv.user_id, inv.channel_id)):
            continue
        count = f": {people(session.participants)}" if session.participants else ""
        lines.append((session.participants, f"• :red_circle: *{mrkdwn_escape(room.name)}*{count}"))
    if not lines:
        await inv.reply("No room has a live session right now.")
        return
    lines.sort(key=lambda pair: -pair[0])
    await inv.reply_list(f"*{plural(len(lines), 'live room')}*:",
                         [line for _, line in lines] + [f"_{note}_" for note in notes.values()])


async def end_session(services: Services, room: RoomRecord, user_id: str) -> str:
    """End the room's live session; returns what to tell the person."""
    provider = services.provider(room)
    provider.require(Capability.END_SESSION)
    require_moderator(services, room, user_id, "end the session")
    async with once_at_a_time(services, f"end:{room.id}") as first:
        if not first:
            return f"Already ending the session in *{mrkdwn_escape(room.name)}*."
        if Capability.LIVE_STATUS in provider.capabilities:
            session = await provider.live_session(as_provider_room(room))
            if session is None:
                return f"Nobody is in *{mrkdwn_escape(room.name)}* right now, so there is no session to end."
            session_id, started, count = session.id, session.started_at, session.participants
        else:
            known = session_log.latest_of_room(services.db, room.id)
            live = known is not None and known.state == session_log.LIVE
            session_id = known.session_id if live else None
            started, count = (known.started if live else None), (known.participants if live else 0)
        await provider.end_session(as_provider_room(room), session_id)
        now = services.clock()
        started = started or now
        session_id = session_id or f"{room.id}@{int(started.timestamp())}"
        restreams.stop_all_in_room(services.db, room.id)  # a stream ends with its session
        session_log.ended(services.db, provider=provider.name, session_id=session_id, room_id=room.id,
                          at=now.isoformat(timespec="seconds"), started_at=started.isoformat(timespec="seconds"),
                          participants=count, ended_by=user_id)
        if rooms.get(services.db, room.id):
            room = rooms.update(services.db, room.id, status="ended", session_id=session_id,
                                participants=count, ended_by=user_id,
                                session_started_at=started.isoformat(timespec="seconds"),
                                session_ended_at=now.isoformat(timespec="seconds"))
            await refresh_room_message(services, room)
            # Its summary then lands in the thread by itself, webhooks or not.
            if Capability.SUMMARIES in provider.capabilities:
                summaries.session_over(services, room, session_id)
        rooms.audit(services.db, team_id=room.team_id, user_id=user_id, action="session.end", room_id=room.id,
                    session_id=session_id)
        return f"The session in *{mrkdwn_escape(room.name)}* has ended."


async def end_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet end standup`.")
    room = await inv.room(" ".join(inv.args))
    await inv.reply(await end_session(inv.services, room, inv.user_id))


async def post_command(inv: Invocation) -> None:
    """`/meet post <room>`: the room message again, here (after a Slack outage, or when it scrolled away)."""
    if not inv.args:
        raise BadInput("Which room? For example `/meet post standup` posts its room message here again.")
    services = inv.services
    room = await inv.room(" ".join(inv.args))
    name = mrkdwn_escape(room.name)
    if rooms.get(services.db, room.id) is None:
        raise BadInput(f"*{name}* was made outside meetops, so it has no room message. "
                       f"`/meet join {room.friendly_url}` gets you in.")
    if room.private and room.channel_id not in ("", inv.channel_id):
        raise BadInput(f"*{name}* is private to <#{room.channel_id}>, so its room message stays there. "
                       f"Run `/meet post {room.friendly_url}` in that channel.")
    async with once_at_a_time(services, f"post:{room.id}") as first:
        if not first:
            return  # a second `/meet post` of the same room while the first is posting
        room = await check_still_exists(services, room)
        before = room.message_ts
        await post_room_message(inv, room, f"I couldn't post the room message of *{name}* here")
        if rooms.get(services.db, room.id).message_ts == before:
            return  # not posted: post_room_message said why
    older = " The older one now points to it." if before else ""
    await inv.reply(f"Posted the room message of *{name}* here again.{older}")


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("", standing_room, "/meet", "start (or reuse) this channel's room"), default=True)
    router.add(Subcommand("new", new_room, "/meet new <name> [--private] [--provider <name>]",
                          "create a named room; private rooms need a personal link"))
    router.add(Subcommand("rooms", list_rooms, "/meet rooms", "list the team's rooms"))
    router.add(Subcommand("live", live_rooms, "/meet live", "rooms with a live session, and how many people are in each"))
    router.add(Subcommand("end", end_command, "/meet end <room>", "end the room's live session (moderators)"))
    router.add(Subcommand("post", post_command, "/meet post <room>",
                          "post the room's message again in this channel; the older one then points to it"))

    @app.action(ids.END)
    async def end_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond,
                                 lambda room, user_id, _channel: end_session(services, room, user_id))
