"""Room operations several features share: finding a room, who moderates it, keeping its message current."""

from __future__ import annotations

import asyncio
import logging
import re
from contextvars import ContextVar
from datetime import timedelta

from apscheduler.triggers.date import DateTrigger
from slack_sdk.errors import SlackApiError

from bot.blocks import room_message_blocks, room_message_text
from bot.config import ConfigError
from bot.delivery import transient
from bot.errors import (AmbiguousRoom, MeetopsError, NotAllowed, ProviderGone, ProviderNotFound, ProviderUnavailable,
                        RoomDeleted, RoomNotFound)
from bot.providers.base import Person, Provider, Role, Room
from bot.providers.http import ProbeInconclusive
from bot.messaging import slack_error
from bot.names import clean
from bot.services import Services
from bot.text import mrkdwn_escape
from storage import recording_state, rooms
from storage.rooms import RoomRecord
from storage.records import fetch_one

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30  # a room message update Slack couldn't take is tried again after this, then doubling
REFRESH_MAX_SECONDS = 10 * 60
REFRESH_ATTEMPTS = 8

# What the provider can look a room up by: a link name (friendly_url) or an id.
PROVIDER_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")


def as_provider_room(room: RoomRecord) -> Room:
    return Room(id=room.id, friendly_url=room.friendly_url, description=room.description,
                privacy=room.privacy, room_url=room.room_url, extra=room.extra, facts=room.facts)


async def person(services: Services, room: RoomRecord, user_id: str, team_id: str) -> Person:
    """Who this Slack user is in this room: their name, avatar and e-mail, and their role."""
    profile = await services.people.get(user_id)
    role = Role.MODERATOR if is_moderator(services, room, user_id) else Role.ATTENDEE
    return Person(slack_user_id=user_id, external_id=f"{team_id}:{user_id}", role=role, name=profile.name,
                  avatar=profile.avatar, email=profile.email)


# The room the running listener acts on (each listener runs in a task of its own): when the platform then answers
# 404, the error boundary checks whether it is this room that is gone (`explain_not_found`).
_acting_on: ContextVar[RoomRecord | None] = ContextVar("acting_on", default=None)


def acting_on(room: RoomRecord) -> RoomRecord:
    _acting_on.set(room)
    return room


async def explain_not_found(services: Services, error: ProviderNotFound) -> MeetopsError:
    """A 404 a command did not expect: if its room is gone at the platform, that, in words (and the room marked
    deleted, its message updated); else the error as it was."""
    room = _acting_on.get()
    if room is None or room.status == "deleted":
        return error
    try:
        await check_still_exists(services, room)
    except (RoomDeleted, ProviderUnavailable) as better:
        return better
    return error


async def resolve_room(services: Services, team_id: str, ref: str, channel_id: str = "") -> RoomRecord:
    """A room by friendly_url, id or posted name: the bot's own rooms first (this channel's before
    others'), then the provider's. The name is cleaned as `/meet new` cleaned it (invisible characters, runs of
    spaces), so what was pasted finds what was typed."""
    ref = clean(ref or "")
    if not ref:
        raise RoomNotFound("(no name given)")
    found = rooms.candidates(services.db, team_id, ref, channel_id)
    if found:
        _refuse_ambiguous(found, ref, channel_id)
        return acting_on(found[0])
    if not PROVIDER_REF.fullmatch(ref):
        raise RoomNotFound(ref)  # not a link name or an id, and no room of ours has that name
    provider = services.providers.default
    try:
        found = await provider.get_room(ref)
    except ProviderNotFound:
        raise RoomNotFound(ref) from None
    # The provider matched it another way (its lookups may ignore case): if it is one of ours, it keeps
    # our record's channel, privacy and creator.
    ours = rooms.by_provider_id(services.db, provider.name, found.id)
    if ours is not None:
        if ours.status == "deleted":
            raise RoomNotFound(ref)
        return acting_on(ours)
    # A room made outside meetops: usable, but only admins moderate it.
    return acting_on(RoomRecord(id=found.id, team_id=team_id, channel_id="", creator_id="", name=found.friendly_url,
                                friendly_url=found.friendly_url, room_url=found.room_url, privacy=found.privacy,
                                description=found.description, provider=provider.name))


def _refuse_ambiguous(found: list[RoomRecord], ref: str, channel_id: str) -> None:
    """A name that rooms of other channels share, none of them this channel's: picking one would be a guess
    (and the command may end or delete it), so the person is asked for the link name of the one they mean."""
    key = rooms.fold(ref)
    best = found[0]
    if best.id == ref or best.slug_key == key or best.channel_id == channel_id:
        return  # its id, its link name, or this channel's room of that name: no guess
    same = [r for r in found if r.name_key == key and r.slug_key != key and not r.private]
    if len(same) < 2:
        return
    listed = ", ".join(f"`{r.friendly_url}` in <#{r.channel_id}>" if r.channel_id else f"`{r.friendly_url}`"
                       for r in same)
    raise AmbiguousRoom(f"More than one room is called *{mrkdwn_escape(best.name)}*: {listed}. Use the link name "
                        f"of the one you mean, for example `{same[0].friendly_url}`.")


async def check_still_exists(services: Services, room: RoomRecord) -> RoomRecord:
    """Make sure the provider still has the room; mark it deleted (and say so) if not.

    When the provider is unreachable we carry on with what we know: a join link
    signed now still works once it is back.
    """
    provider = services.provider(room)
    if room.status == "deleted":  # a button of an older message: deleted with /meet delete, or found gone
        raise RoomDeleted(room.name, provider.title, by=room.ended_by)
    if not provider.rooms_persist:
        return room  # the platform forgets rooms between meetings: meetops' record is the room
    try:
        await provider.get_room(room.id)
    except ProviderNotFound:
        await confirm_answering(provider)  # a 404 from a platform that answers everything so is no deletion
        if rooms.get(services.db, room.id):
            room = rooms.update(services.db, room.id, status="deleted")
            await refresh_room_message(services, room)
        raise RoomDeleted(room.name, provider.title) from None
    except ProviderUnavailable:
        log.warning("provider unavailable while checking room %s; using the stored room", room.id)
    return room


async def confirm_answering(provider: Provider) -> None:
    """After a 404 about a room: the platform's own start-up probe (one cheap read). A room is taken as deleted
    there only if that works; a 404 for everything (a proxy, a wrong address, an outage page) raises
    ProviderUnavailable instead, and nothing is marked deleted."""
    try:
        await provider.check()
    except (ConfigError, ProbeInconclusive, MeetopsError) as exc:
        log.warning("%s answered 404, and its probe failed too (%s): not taking the room as deleted",
                    provider.title, exc)
        raise ProviderUnavailable(f"{provider.title} isn't answering as it should right now. Please try again in a "
                                  "minute; if it keeps happening, an admin should check its settings.") from None


def over_for_good(room: RoomRecord, provider: Provider) -> bool:
    """The room's meeting ended on a platform whose room is the meeting: nobody can enter it again."""
    return room.status == "ended" and not provider.rooms_reopen


def require_meeting_ahead(services: Services, room: RoomRecord) -> None:
    """Refuse what needs a meeting (a link, an invite, a poll, a recording) in a room that can't host one again."""
    provider = services.provider(room)
    if over_for_good(room, provider):
        raise ProviderGone(f"The meeting in *{mrkdwn_escape(room.name)}* is over, and a {provider.title} room can't "
                           f"host another one. `/meet new {mrkdwn_escape(room.name)}` makes a new room.")


def visible_here(services: Services, room: RoomRecord, user_id: str, channel_id: str) -> bool:
    """A private room belongs to its channel: elsewhere it doesn't exist, except for its moderators."""
    return not room.private or room.channel_id in ("", channel_id) or is_moderator(services, room, user_id)


def is_moderator(services: Services, room: RoomRecord, user_id: str) -> bool:
    return user_id == room.creator_id or services.is_admin(user_id)


def require_moderator(services: Services, room: RoomRecord, user_id: str, doing: str) -> None:
    if not is_moderator(services, room, user_id):
        who = f"<@{room.creator_id}>" if room.creator_id else "an admin"
        raise NotAllowed(f"Only the room's moderators can {doing} in *{mrkdwn_escape(room.name)}*. "
                         f"Ask {who} to do it.")


def room_blocks(services: Services, room: RoomRecord, *, new: bool = False) -> list[dict]:
    """The room message as it stands: its provider's capabilities decide its buttons. A `new` room (made a
    moment ago) streams and records nothing, so nothing is looked up."""
    provider = services.provider(room)
    live = None if new else live_stream(services, room.id)
    return room_message_blocks(room, capabilities=provider.capabilities_of(as_provider_room(room)),
                               provider_title=provider.title,
                               emulated=services.emulated(room), streaming_to=live["destination"] if live else None,
                               stream_in_meeting=bool(live and live["in_meeting"]),
                               recording=not new and recording_state.is_on(services.db, room.id),
                               reopens=provider.rooms_reopen, counts_links=provider.counts_links)


def live_stream(services: Services, room_id: str) -> dict | None:
    """The room's live stream ({destination, in_meeting}), if it has one. `in_meeting`: the destination is
    set up at the provider, and the meeting starts the stream itself."""
    return fetch_one(services.db, "select destination, in_meeting from restreams where room_id = ? and state = 'live'",
                     [room_id])


def streaming_to(services: Services, room_id: str) -> str | None:
    """Where the room is streaming live right now, if it is."""
    live = live_stream(services, room_id)
    return live["destination"] if live else None


async def refresh_room_message(services: Services, room: RoomRecord, attempt: int = 0) -> None:
    """Re-render the room message in place from what the database knows when the update is sent.

    One update per room at a time, each re-reading the room under the lock: webhooks, clicks
    and commands changing the same room concurrently can't leave an older state showing. An update Slack
    couldn't take now (an outage, a rate limit past slack-sdk's retries) is tried again later: else the message
    would show an old state for good.
    """
    async with services.room_locks.setdefault(room.id, asyncio.Lock()):
        room = rooms.get(services.db, room.id) or room
        if not (room.message_channel and room.message_ts):
            return
        try:
            await services.slack.chat_update(
                channel=room.message_channel,
                ts=room.message_ts,
                text=room_message_text(room),
                blocks=room_blocks(services, room),
            )
        except Exception as exc:
            why = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            if transient(exc) and attempt < REFRESH_ATTEMPTS:
                delay = min(REFRESH_MAX_SECONDS, REFRESH_SECONDS * 2 ** attempt)
                log.warning("could not update the message of room %s now (%s); trying again in %d s", room.id, why,
                            delay)
                services.scheduler.add_job(
                    refresh_room_message, DateTrigger(run_date=services.clock() + timedelta(seconds=delay)),
                    args=[services, room, attempt + 1], id=f"room-refresh:{room.id}", name="room message update",
                    replace_existing=True)
            elif isinstance(exc, SlackApiError) or transient(exc):
                # The message may have been deleted by someone; the room itself is fine.
                log.warning("could not update the message of room %s: %s", room.id, why)
            else:
                raise
