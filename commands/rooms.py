"""Rooms: the channel's standing room, named rooms, listing them, and ending a session."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Iterator

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.blocks import room_message_text, superseded_message_blocks
from bot.text import mrkdwn_escape, people, plural, slack_date
from bot.delivery import ROOM_EVENT, CannotLook, find_marked, metadata, transient
from bot.errors import (BadInput, MeetopsError, NameTaken, NotAllowed, ProviderNotFound, ProviderRateLimited,
                        ProviderUnavailable, RoomDeleted)
from bot.meetings import (
    as_provider_room,
    check_still_exists,
    is_moderator,
    over_for_good,
    refresh_room_message,
    require_moderator,
    room_blocks,
    visible_here,
)
from bot.interactions import answer_room_button
from bot.messaging import cannot_post, once_at_a_time, send_private, slack_error
from bot.names import clean, friendly_url_for, slugify, with_suffix
from bot.providers.base import Capability, Provider, Room, RoomSpec
from bot.services import Services
from commands import invite, reconcile, summaries
from commands.router import Invocation, Mention, Router, Subcommand, as_flag
from storage import intents, recording_state, restreams, rooms
from storage import sessions as session_log
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

MAX_SUFFIX = 50
RETRY_SECONDS = 60  # an owed room message, or a create the provider didn't answer, is tried again after this
RETRY_MAX_SECONDS = 15 * 60
RETRY_ATTEMPTS = 12  # then the person is told the message could not be posted


async def create_room(services: Services, *, team_id: str, channel_id: str, user_id: str, name: str,
                      slug: str, description: str, private: bool, provider: Provider | None = None,
                      options: frozenset[str] = frozenset(), standing: bool = False) -> RoomRecord:
    """Create the room on its provider with a free link name (suffixing on collision) and remember it.

    The ask is written down first (`storage.intents`): should the process die between the provider making
    the room and meetops remembering it, the next start finds the room (or tells the person it failed).
    """
    provider = provider or services.providers.default
    if private and Capability.PRIVATE_ROOMS not in provider.capabilities:
        raise provider.unsupported(Capability.PRIVATE_ROOMS)
    free = _free_link_names(services, team_id, slug)
    first = next(free, None)
    # Written down with the first name to try: the name to look up should the process die during the call.
    intent = intents.record(services.db, team_id=team_id, channel_id=channel_id, user_id=user_id, name=name,
                            slug=first or slug, description=description, private=private,
                            standing=standing, provider=provider.name, options=options)
    try:
        for candidate in itertools.chain([first] if first else [], free):
            if candidate != intent.slug:
                intents.trying(services.db, intent.id, candidate)
                intent.slug = candidate
            spec = RoomSpec(name=name, slug=candidate, description=description, private=private,
                            external_id=f"slack:{team_id}:{channel_id}", options=options)
            try:
                created = await provider.create_room(spec, idempotency_key=f"{team_id}:{channel_id}:{candidate}")
            except NameTaken:
                continue  # taken by a room meetops didn't make (or made a moment ago): try the next name
            return remember_created(services, intent, created)
        raise BadInput(f"Every link name from `{slug}` to `{with_suffix(slug, MAX_SUFFIX)}` is taken. Pick another name.")
    except ProviderUnavailable:
        # No answer in time: the provider may have made it anyway. The person hears it failed now; a check in a
        # minute keeps the room (and posts its message) if it exists after all.
        intents.unsure(services.db, intent.id)
        arm_intent_check(services, intent.id)
        raise
    except asyncio.CancelledError:
        raise  # the process is stopping: the next start finishes this one
    except BaseException:
        intents.done(services.db, intent.id)  # refused: nothing was made, and the person is told why
        raise


def _free_link_names(services: Services, team_id: str, slug: str) -> Iterator[str]:
    """The link names to try in turn: `slug`, then `slug-2` to `slug-50`, skipping those the team's rooms use.
    The suffixed ones are looked up only when needed: most names are new."""
    if not rooms.taken_of(services.db, team_id, [slug]):
        yield slug
    suffixed = [with_suffix(slug, n) for n in range(2, MAX_SUFFIX + 1)]
    taken = rooms.taken_of(services.db, team_id, suffixed)
    yield from (candidate for candidate in suffixed if candidate.casefold() not in taken)


def remember_created(services: Services, intent: intents.IntentRecord, created: Room, **audit) -> RoomRecord:
    """The provider made the room: record it (and, for plain /meet, as the channel's room), its audit line and
    the intent's progress, in one transaction. Its room message is owed until posted."""
    record = _record(created, team_id=intent.team_id, channel_id=intent.channel_id, user_id=intent.user_id,
                     name=intent.name, provider=intent.provider)
    with services.db.atomic():
        try:
            room = rooms.insert(services.db, record)
        except sqlite3.IntegrityError:  # already ours: this create was finished once before
            room = rooms.get(services.db, created.id)
            if room is None:
                raise  # not a room already ours (a constraint broken): the person is told it failed
        if intent.standing:
            rooms.set_standing_room(services.db, intent.team_id, intent.channel_id, room.id)
        intents.created(services.db, intent.id, room.id)
        rooms.audit(services.db, team_id=intent.team_id, user_id=intent.user_id, action="room.create",
                    room_id=room.id, provider=intent.provider, private=bool(intent.private),
                    standing=bool(intent.standing), **audit)
    return room


def _record(room: Room, *, team_id: str, channel_id: str, user_id: str, name: str, provider: str) -> RoomRecord:
    return RoomRecord(id=room.id, team_id=team_id, channel_id=channel_id, creator_id=user_id, name=name,
                      friendly_url=room.friendly_url, room_url=room.room_url, privacy=room.privacy,
                      description=room.description, provider=provider,
                      provider_data=rooms.provider_data(dict(room.extra), room.facts))


def room_message_metadata(room: RoomRecord) -> dict:
    """Marks the room message, so a post whose answer never came is found rather than made twice."""
    return metadata(ROOM_EVENT, room=room.id)


async def post_room_message(inv: Invocation, room: RoomRecord, intro: str, *, new: bool = False) -> None:
    """Post the room message in the channel and remember where it is; an older one points to it.

    The room is written down before its message goes out (`remember_created`), so whoever acts on the message
    finds it. When Slack can't take it (rate limited after slack-sdk's retries, an outage) and the room was just
    made, the room is kept and its message is owed: a job posts it once Slack takes it (`post_owed_message`).
    """
    services = inv.services
    try:
        posted = await inv.client.chat_postMessage(
            channel=inv.channel_id, text=room_message_text(room),
            blocks=room_blocks(services, room, new=new), metadata=room_message_metadata(room))
    except Exception as exc:
        owed = intents.owing_message(services.db, room.id)
        if owed is not None and (transient(exc) or not isinstance(exc, SlackApiError)):
            log.info("the room message of %s is owed (%s); posting it when Slack takes it", room.id,
                     slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__)
            intents.attempted(services.db, owed.id)
            arm_message_retry(services, room.id)
            await inv.reply(f"{intro}, but Slack isn't taking messages right now. I'll post its room message here "
                            f"as soon as it does. Meanwhile, `/meet join {room.friendly_url}` gets you in.")
            return
        intents.done_for_room(services.db, room.id)  # nothing to retry: the person is told what to do
        if not isinstance(exc, SlackApiError):
            raise
        log.info("could not post the room message in %s: %s", inv.channel_id, slack_error(exc))
        await inv.reply(f"{intro}, but: {cannot_post(inv.channel_id, exc)} Meanwhile, "
                        f"`/meet join {room.friendly_url}` gets you in.")
        return
    rooms.message_posted(services.db, room.id, posted["channel"], posted["ts"])  # settles what was owed
    disarm_message_retry(services, room.id)
    if room.message_ts and room.message_channel:
        # Only the newest message follows the room; the older one must not show a stale state.
        try:
            await inv.client.chat_update(channel=room.message_channel, ts=room.message_ts,
                                         text=room_message_text(room),
                                         blocks=superseded_message_blocks(room, posted["channel"]))
        except SlackApiError as exc:
            log.info("could not retire the older message of room %s: %s", room.id, slack_error(exc))


# -- finishing creates a crash (or a fault) interrupted -----------------------------------


def message_job_id(room_id: str) -> str:
    return f"room-message:{room_id}"


def intent_job_id(intent_id: int) -> str:
    return f"room-intent:{intent_id}"


def arm_message_retry(services: Services, room_id: str, attempts: int = 0) -> None:
    delay = min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2 ** max(0, attempts - 1))
    services.scheduler.add_job(post_owed_message, DateTrigger(run_date=services.clock() + timedelta(seconds=delay)),
                               args=[services, room_id], id=message_job_id(room_id), name="room message",
                               replace_existing=True)


def disarm_message_retry(services: Services, room_id: str) -> None:
    try:
        services.scheduler.remove_job(message_job_id(room_id))
    except JobLookupError:
        pass  # none armed, or the one-shot job is running now


def arm_intent_check(services: Services, intent_id: int) -> None:
    services.scheduler.add_job(finish_create, DateTrigger(run_date=services.clock() + timedelta(seconds=RETRY_SECONDS)),
                               args=[services, intent_id], id=intent_job_id(intent_id), name="room create check",
                               replace_existing=True)


def late_note(intent: intents.IntentRecord, why: str | None = None) -> dict:
    why = why or ("Slack wasn't taking messages" if intent.attempts else "meetops was interrupted")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f":hourglass_flowing_sand: This room message is late: {why} when <@{intent.user_id}> asked for the room "
        f"({slack_date(datetime.fromisoformat(intent.created_at))}). Sorry for the wait.")}]}


async def post_owed_message(services: Services, room_id: str, why: str | None = None) -> None:
    """Post the room message a new room is still owed (after a crash, or once Slack takes messages again),
    once: a post whose answer never came is looked for in the channel first."""
    owed = intents.owing_message(services.db, room_id)
    room = rooms.get(services.db, room_id)
    if owed is None:
        return
    if room is None or room.message_ts or room.status == "deleted":
        intents.done_for_room(services.db, room_id)
        return
    try:
        found = await find_marked(services, owed.channel_id, thread_ts=None, event_type=ROOM_EVENT,
                                  match=lambda p: p.get("room") == room_id)
    except CannotLook as exc:
        if exc.later:
            arm_message_retry(services, room_id, owed.attempts + 1)
            return
        found = []  # can't read the channel (a DM): post, as before
    if found:
        rooms.update(services.db, room_id, message_channel=owed.channel_id, message_ts=found[0]["ts"])
        intents.done_for_room(services.db, room_id)
        disarm_message_retry(services, room_id)
        return
    blocks = room_blocks(services, room) + [late_note(owed, why)]
    intents.attempted(services.db, owed.id)
    try:
        posted = await services.slack.chat_postMessage(channel=owed.channel_id, text=room_message_text(room),
                                                       blocks=blocks, metadata=room_message_metadata(room))
    except Exception as exc:
        if (transient(exc) or not isinstance(exc, SlackApiError)) and owed.attempts + 1 < RETRY_ATTEMPTS:
            log.info("the room message of %s is still owed (%s); trying again later", room_id, type(exc).__name__)
            arm_message_retry(services, room_id, owed.attempts + 1)
            return
        intents.done_for_room(services.db, room_id)
        reason = cannot_post(owed.channel_id, exc) if isinstance(exc, SlackApiError) else "Slack is out of reach."
        await send_private(services, user_id=owed.user_id, channel_id=None, text=(
            f"I created *{mrkdwn_escape(room.name)}*, but I couldn't post its room message: {reason} "
            f"Meanwhile, `/meet join {room.friendly_url}` gets you in."))
        return
    rooms.update(services.db, room_id, message_channel=posted["channel"], message_ts=posted["ts"])
    intents.done_for_room(services.db, room_id)
    disarm_message_retry(services, room_id)


async def finish_create(services: Services, intent_id: int) -> None:
    """An ask left unfinished (`creating` by a crash, `unsure` after a provider that didn't answer): if the
    provider has the room, keep it and post its message; if not, tell the person (unless they already
    heard it failed) and drop the ask. The provider is asked only through its own interface."""
    intent = intents.get(services.db, intent_id)
    if intent is None or intent.state == intents.CREATED:
        return
    try:
        provider = services.providers.get(intent.provider)
        spec = RoomSpec(name=intent.name, slug=intent.slug, description=intent.description or "",
                        private=bool(intent.private), external_id=f"slack:{intent.team_id}:{intent.channel_id}",
                        options=intent.option_set)
        found = await provider.find_made(spec, known=rooms.ids_on(services.db, provider.name))
    except (ProviderUnavailable, ProviderRateLimited) as exc:
        log.warning("could not check the unfinished room %r at its provider (%s); checking again later",
                    intent.slug, exc.user_message)
        arm_intent_check(services, intent_id)
        return
    except MeetopsError as exc:  # the provider is not set up any more
        log.warning("unfinished room %r: %s", intent.slug, exc.user_message)
        found = None
    if found is not None:
        room = remember_created(services, intent, found, recovered=True)
        log.warning("room %s was made at %s but not remembered (interrupted); kept it", room.id, intent.provider)
        await post_owed_message(services, room.id, why=(
            f"{provider.title} answered too late" if intent.state == intents.UNSURE else None))
        return
    told_already = intent.state == intents.UNSURE
    intents.done(services.db, intent_id)
    if told_already:
        return
    log.warning("unfinished room %r was never made at %s; telling %s", intent.slug, intent.provider, intent.user_id)
    await send_private(services, user_id=intent.user_id, channel_id=intent.channel_id, text=(
        f"Sorry, I couldn't create the room *{mrkdwn_escape(intent.name)}* you asked for "
        f"({slack_date(datetime.fromisoformat(intent.created_at))}): meetops was interrupted before the meeting "
        f"platform made it. Nothing was created; please ask again with "
        f"`/meet {'new ' + mrkdwn_escape(intent.name) if not intent.standing else ''}`."))


async def on_serving(services: Services) -> None:
    """Finish (or undo) every create a crash interrupted, post every room message still owed, and correct
    room messages that say live for meetings that ended while meetops was down."""
    unfinished = intents.unfinished(services.db)
    if unfinished:
        log.warning("%d room create(s) were left unfinished; finishing them", len(unfinished))
    for intent in unfinished:
        if intent.state == intents.CREATED and intent.room_id:
            services.spawn(post_owed_message(services, intent.room_id), name="owed room message")
        else:
            services.spawn(finish_create(services, intent.id), name="unfinished room create")
    # Meetings that ended while meetops was down (their webhooks lost): room messages corrected.
    services.spawn(reconcile.reconcile_all(services), name="live rooms check")


async def standing_room(inv: Invocation) -> None:
    services = inv.services
    new = False
    # Two `/meet` at once in one channel must not both create its room.
    async with services.room_locks.setdefault(f"standing:{inv.team_id}:{inv.channel_id}", asyncio.Lock()):
        room = rooms.standing_room(services.db, inv.team_id, inv.channel_id)
        if room is not None and over_for_good(room, services.provider(room)):
            room = None  # its platform's room was that one meeting: the channel gets a new one below
        if room is not None:
            try:
                room = await check_still_exists(services, room)
            except RoomDeleted:  # deleted at the provider: give the channel a new one below
                room = None
        if room is None:
            channel = inv.channel_name if inv.channel_name not in ("", "directmessage", "privategroup") else "meeting"
            room = await create_room(services, team_id=inv.team_id, channel_id=inv.channel_id, user_id=inv.user_id,
                                     name=channel, slug=_standing_slug(channel),
                                     description=f"Standing meeting room of #{channel}", private=False,
                                     standing=True)
            new = True
        elif room.status == "ended":
            # A new message for a new meeting: the last one's summary stays reachable with /meet summary.
            room = rooms.update(services.db, room.id, status="open", participants=0)
    await post_room_message(inv, room, f"The room *{mrkdwn_escape(room.name)}* is ready", new=new)


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
                           + (", `--provider &lt;name&gt;`" if len(services.providers.providers) > 1 else "")
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
    # Two asks for the same name in a channel at once: the second waits, then finds the first one's room.
    async with services.turn(f"new:{inv.team_id}:{inv.channel_id}:{rooms.fold(name)}"):
        existing = rooms.named_in_channel(services.db, inv.team_id, inv.channel_id, name)
        if existing is not None and over_for_good(existing, services.provider(existing)):
            existing = None  # that room was one meeting, now over: the same name makes a new room
        if existing is None and intents.unsure_of(services.db, inv.team_id, inv.channel_id, rooms.fold(name)):
            # The platform answered an earlier ask too late: it may have made that room, and a check will post it.
            raise BadInput(f"I'm still finding out whether {provider.title} made *{mrkdwn_escape(name)}* when you "
                           "asked before (it answered too late). If it did, its room message appears here within "
                           "a couple of minutes; if it didn't, you can ask again then.")
        if existing is None:
            slug = friendly_url_for(name)
            room = await create_room(services, team_id=inv.team_id, channel_id=inv.channel_id, user_id=inv.user_id,
                                     name=name, slug=slug, description=name if len(name) >= 3 else f"Room {name}",
                                     private=private, provider=provider, options=options)
    if existing is not None:
        # The same name again in the same channel: bring that room back rather than make a silent twin.
        await post_room_message(inv, existing, f"*{mrkdwn_escape(existing.name)}* already exists here")
        # Asked for private, the public room stays as it is: said, not silently dropped.
        privacy = (f" It stays public, as it was made: a room's privacy doesn't change. For a private room, give "
                   f"it another name, for example `/meet new \"{mrkdwn_escape(existing.name)} (private)\" --private`."
                   if private and not existing.private else "")
        await inv.reply(f"*{mrkdwn_escape(existing.name)}* already exists in this channel, so I posted its room "
                        f"message again rather than make a second room with the same name. For another room, "
                        f"pick another name.{privacy}")
        if invitees:
            await invite.invite_and_report(inv, existing, invitees)
        return
    # The room message says which privacy the room got (and, when it isn't the only one, on which provider).
    await post_room_message(inv, room, f"I created *{mrkdwn_escape(room.name)}*", new=True)
    if invitees:
        await invite.invite_and_report(inv, room, invitees)


async def _all_rooms(services: Services):
    for provider in services.providers.providers.values():
        async for room in provider.iter_rooms():
            yield room


async def list_rooms(inv: Invocation) -> None:
    services = inv.services
    known = rooms.of_team(services.db, inv.team_id)
    lines, listed = [], set()
    async for room in _all_rooms(services):
        mine = known.get(room.id)
        listed.add(room.id)
        if mine is not None and not visible_here(services, mine, inv.user_id, inv.channel_id):
            continue
        label = mine.name if mine else room.description or room.friendly_url
        # The link name meetops gave the room (the one its message shows and /meet join takes); a provider
        # without link names knows the room only by its id.
        lines.append(_room_line(inv, label, mine.friendly_url if mine else room.friendly_url,
                                private=mine.private if mine else room.privacy == "private", mine=mine))
    # A provider that lists running meetings only (its plug-in says so) doesn't know the idle rooms: meetops'
    # records are them. Only providers set up here: a room of one no longer configured is not listed, as before.
    running_only = {name for name, p in services.providers.providers.items() if not p.plugin.lists_idle_rooms}
    for mine in known.values():
        if (mine.id not in listed and mine.status != "deleted" and mine.provider in running_only
                and visible_here(services, mine, inv.user_id, inv.channel_id)):
            lines.append(_room_line(inv, mine.name, mine.friendly_url, private=mine.private, mine=mine))
    if not lines:
        await inv.reply("There are no rooms yet. Start one with `/meet` or `/meet new &lt;name&gt;`.")
        return
    await inv.reply_list(f"*{plural(len(lines), 'room')}* (join one with `/meet join &lt;link name&gt;`):", lines)


def _room_line(inv: Invocation, label: str, link_name: str, *, private: bool, mine: RoomRecord | None) -> str:
    lock = " :lock:" if private else ""
    where = f" in <#{mine.channel_id}>" if mine and mine.channel_id and mine.channel_id != inv.channel_id else ""
    return f"• *{mrkdwn_escape(label)}*{lock}  `{link_name}`{where}"


async def live_rooms(inv: Invocation) -> None:
    services = inv.services
    lines, seen, notes = [], set(), {}
    for provider in services.providers.with_capability(Capability.LIVE_STATUS):
        live_ids: set[str] = set()
        async for live in provider.iter_live_rooms():
            live_ids.add(live.room_id)
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
            # A meeting can run with nobody in it (started by a Join whose link isn't open yet, or everyone gone a
            # moment ago): said in words, as the room message says just "Live" then.
            count = people(live.participants) if live.participants else "nobody in it right now"
            lines.append((live.participants, f"• :red_circle: *{mrkdwn_escape(name)}*: {count}"))
        # A room message still saying "Live" for a meeting that ended unseen (a lost webhook) is corrected.
        await reconcile.correct_stale(services, provider, live_ids, team_id=inv.team_id)
    # Rooms on providers that can't be asked, but whose webhooks told meetops they are live.
    for session in session_log.live_in(services.db):
        room = rooms.get(services.db, session.room_id)
        if (room is None or session.room_id in seen or room.team_id != inv.team_id
                or Capability.LIVE_STATUS in services.provider(room).capabilities
                or not visible_here(services, room, inv.user_id, inv.channel_id)):
            continue
        count = f": {people(session.participants)}" if session.participants else ""
        lines.append((session.participants, f"• :red_circle: *{mrkdwn_escape(room.name)}*{count}"))
    untold = _untold_platforms(services, inv.team_id)
    blind = (f" Rooms on {' and '.join(untold)} aren't included: meetops can't tell when their meetings run."
             if untold else "")
    if not lines:
        await inv.reply(("No room has a live session right now." if not untold else
                         "None of the rooms meetops can check has a live session right now.") + blind)
        return
    lines.sort(key=lambda pair: -pair[0])
    await inv.reply_list(f"*{plural(len(lines), 'live room')}*:",
                         [line for _, line in lines] + [f"_{note}_" for note in notes.values()]
                         + ([f"_{blind.strip()}_"] if blind else []))


def _untold_platforms(services: Services, team_id: str) -> list[str]:
    """The platforms of this team's rooms that neither answer "who is in a meeting" nor send webhooks."""
    names = {room.provider for room in rooms.of_team(services.db, team_id).values() if room.status != "deleted"}
    return [provider.title for name, provider in services.providers.providers.items() if name in names
            and not {Capability.LIVE_STATUS, Capability.WEBHOOKS} & provider.capabilities.supported]


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
                current = rooms.get(services.db, room.id)
                if current is not None and reconcile.is_stale(services, current, set()):
                    # Its message still says live: the meeting ended unseen (a lost webhook).
                    await reconcile.correct(services, provider, current)
                    return (f"Nobody is in *{mrkdwn_escape(room.name)}* right now: its meeting had already ended. "
                            "I've corrected its room message.")
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
        recording_state.stop(services.db, room.id)  # and so does a recording
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
    if room.message_channel not in (None, "", inv.channel_id) and not is_moderator(services, room, inv.user_id):
        # The room lives in its message: its updates and its summaries follow it to this channel.
        who = f"<@{room.creator_id}>" if room.creator_id else "an admin"
        raise NotAllowed(f"*{name}*'s room message is in <#{room.message_channel}>, and only the room's "
                         f"moderators can move it to another channel (its summaries go with it). Ask {who}, or "
                         f"run `/meet post {room.friendly_url}` in <#{room.message_channel}>.")
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
