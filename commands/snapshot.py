"""`/meet snapshot <room>`: a picture of the running meeting, posted in the room's thread, on providers
that can take one (Capability.SNAPSHOTS). Moderators only: it captures the people in the meeting.

A second request while one is being taken makes no second API call.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import BadInput
from bot.meetings import as_provider_room, require_moderator
from bot.messaging import once_at_a_time, slack_error
from bot.providers.base import Capability
from bot.text import mrkdwn_escape
from commands.router import Invocation, Router, Subcommand
from storage import rooms

log = logging.getLogger(__name__)

DOING = "take a snapshot"


async def snapshot_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet snapshot standup`.")
    services = inv.services
    room = await inv.room(" ".join(inv.args))
    provider = services.provider(room)
    provider.require(Capability.SNAPSHOTS)
    require_moderator(services, room, inv.user_id, DOING)
    async with once_at_a_time(services, f"snapshot:{room.id}") as first:
        if not first:
            await inv.reply(f"A snapshot of *{mrkdwn_escape(room.name)}* is being taken already.")
            return
        link = await provider.snapshot(as_provider_room(room))
    rooms.audit(services.db, team_id=room.team_id, user_id=inv.user_id, action="snapshot", room_id=room.id)
    text = f":camera_with_flash: <@{inv.user_id}> took a snapshot of *{mrkdwn_escape(room.name)}*: <{link}|open it>"
    if room.message_channel and room.message_ts:
        try:
            await services.slack.chat_postMessage(channel=room.message_channel, thread_ts=room.message_ts,
                                                   unfurl_links=False, text=text)
        except SlackApiError as exc:
            log.info("could not post the snapshot of room %s in its thread: %s", room.id, slack_error(exc))
        else:
            await inv.reply(f"The snapshot of *{mrkdwn_escape(room.name)}* is in the room's thread.")
            return
    # No thread to post in (or Slack refused): the person who asked gets it.
    await inv.reply(text)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("snapshot", snapshot_command, "/meet snapshot <room>",
                          "take a picture of the running meeting and post it in the room's thread (moderators; "
                          "where the platform can)"))
