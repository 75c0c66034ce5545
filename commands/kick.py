"""`/meet kick <room> @person` (moderators): removes the person from the meeting on the room's provider
(their participant, known from their last join) and tells them privately."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import BadInput, ProviderNotFound
from bot.meetings import as_provider_room, require_moderator
from bot.messaging import once_at_a_time, send_private, slack_error
from bot.providers.base import Capability
from bot.text import mrkdwn_escape
from commands.invite import mentioned
from commands.router import Invocation, Mention, Router, Subcommand
from storage import grants, rooms

log = logging.getLogger(__name__)


async def kick_command(inv: Invocation) -> None:
    people = mentioned(inv.args)
    words = [w for w in inv.args if not isinstance(w, Mention)]
    if words and len(people) > 1:
        raise BadInput(f"I remove one person at a time: `/meet kick {mrkdwn_escape(' '.join(words)[:80])} "
                       f"<@{people[0]}>`, then the next.")
    if not words or len(people) != 1:
        raise BadInput("Whom, and from which room? For example `/meet kick standup @bob` (one person, picked "
                       "from Slack's list as you type their name).")
    target = people[0]
    room = await inv.room(" ".join(words))
    services = inv.services
    provider = services.provider(room)
    provider.require(Capability.KICK)
    require_moderator(services, room, inv.user_id, "remove someone")
    if target == inv.user_id:
        raise BadInput("That's you. To leave the meeting, close it; to end it for everyone, use `/meet end`.")
    name = mrkdwn_escape(room.name)
    handle = grants.handle(services.db, room.id, target)
    if handle is None:
        await inv.reply(f"<@{target}> hasn't joined *{name}* through me, so I have no one to remove.")
        return
    async with once_at_a_time(services, f"kick:{room.id}:{target}") as first:
        if not first:
            return
        try:
            await provider.remove_participant(as_provider_room(room), handle)
        except ProviderNotFound:
            grants.forget(services.db, room.id, target)
            await inv.reply(f"<@{target}> had already left *{name}*.")
            return
        grants.forget(services.db, room.id, target)
        rooms.audit(services.db, team_id=inv.team_id, user_id=inv.user_id, action="room.kick", room_id=room.id,
                    removed=target)
    try:
        await send_private(services, user_id=target, channel_id=None,
                           text=f"<@{inv.user_id}> removed you from the meeting in *{name}*.")
        told = " and told them privately"
    except SlackApiError as exc:
        log.info("could not tell %s they were removed: %s", target, slack_error(exc))
        told = ", but Slack didn't let me tell them"
    await inv.reply(f"I removed <@{target}> from *{name}*{told}. Their link no longer works; a new *Join* "
                    "would let them back in.")


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("kick", kick_command, "/meet kick <room> @person",
                          "remove someone from the room's meeting (moderators; where the platform can)"))
