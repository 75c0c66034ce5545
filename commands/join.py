"""Join: everyone gets their own signed link, shown only to them."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.blocks import join_reply_blocks
from bot.text import mrkdwn_escape
from bot.errors import BadInput, NotAllowed
from bot.meetings import as_provider_room, check_still_exists, is_moderator, resolve_room
from bot.messaging import send_private
from bot.providers.base import Participant
from bot.services import Services
from commands.router import Invocation, Router, Subcommand
from storage import rooms
from storage.rooms import RoomRecord

MODERATOR = "moderator"
DEFAULT_ROLE = "attendee"  # the room default: meetops creates rooms without overriding it


async def personal_link(services: Services, room: RoomRecord, *, team_id: str, user_id: str,
                        channel_id: str | None) -> tuple[str, str]:
    """(link, role) for this person. The link is a secret: it goes to them and nowhere else."""
    moderator = is_moderator(services, room, user_id)
    if room.private and room.channel_id and channel_id != room.channel_id and not moderator:
        # Private means: for the people of its channel (who see its room message), not the whole workspace.
        raise NotAllowed(f"*{mrkdwn_escape(room.name)}* is a private room of <#{room.channel_id}>. "
                         "Join it from there, or ask its moderators to let you in.")
    room = await check_still_exists(services, room)
    role = MODERATOR if moderator else DEFAULT_ROLE
    profile = await services.people.get(user_id)
    participant = Participant(external_id=f"{team_id}:{user_id}", role=role, name=profile.name, avatar=profile.avatar)
    link = services.meetings.join_link(as_provider_room(room), participant, lifetime=services.settings.link_lifetime)
    rooms.audit(services.db, team_id=team_id, user_id=user_id, action="room.join", room_id=room.id, role=role)
    return link, role


async def send_link(services: Services, room: RoomRecord, *, team_id: str, user_id: str, channel_id: str | None,
                    respond) -> None:
    link, role = await personal_link(services, room, team_id=team_id, user_id=user_id, channel_id=channel_id)
    await send_private(
        services, user_id=user_id, channel_id=channel_id, respond=respond,
        text=f"Your personal link to {mrkdwn_escape(room.name)} ({role}): {link}",
        blocks=join_reply_blocks(room, link, role, services.settings.meetops_link_hours),
    )


async def join_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet join standup`. `/meet rooms` lists them.")
    room = await inv.room(" ".join(inv.args))
    await send_link(inv.services, room, team_id=inv.team_id, user_id=inv.user_id, channel_id=inv.channel_id,
                    respond=inv.respond)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("join", join_command, "/meet join <room>", "get your personal link to a room"))

    @app.action(ids.JOIN)
    async def join_clicked(ack, body, action, services, respond) -> None:
        await ack()
        team_id = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        room = rooms.get(services.db, action["value"])
        if room is None:
            # The button outlived the bot's memory of the room (or the room was made elsewhere).
            room = await resolve_room(services, team_id, action["value"])
        await send_link(services, room, team_id=team_id, user_id=body["user"]["id"],
                        channel_id=(body.get("channel") or {}).get("id"), respond=respond)

    @app.action(ids.OPEN_LINK)
    async def link_opened(ack) -> None:
        # A URL button still reports its click; nothing to do but acknowledge it.
        await ack()
