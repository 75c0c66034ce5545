"""Join: everyone gets their own signed link, shown only to them."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.blocks import join_reply_blocks
from bot.errors import BadInput, NotAllowed
from bot.meetings import as_provider_room, check_still_exists, person, require_meeting_ahead, resolve_room
from bot.messaging import send_private
from bot.providers.base import JoinGrant
from bot.services import Services
from bot.text import mrkdwn_escape
from commands.router import Invocation, Router, Subcommand
from storage import grants, rooms
from storage.rooms import RoomRecord


async def personal_link(services: Services, room: RoomRecord, *, team_id: str, user_id: str,
                        channel_id: str | None) -> tuple[JoinGrant, str]:
    """(grant, role) for this person, from the room's provider (which may call its API to make it).
    The grant's link is a secret: it goes to them and nowhere else."""
    who = await person(services, room, user_id, team_id)
    if room.private and room.channel_id and channel_id != room.channel_id and who.role != "moderator":
        # Private means: for the people of its channel (who see its room message), not the whole workspace.
        raise NotAllowed(f"*{mrkdwn_escape(room.name)}* is a private room of <#{room.channel_id}>. "
                         "Join it from there, or ask its moderators to let you in.")
    room = await check_still_exists(services, room)
    provider = services.provider(room)
    require_meeting_ahead(services, room)
    now = services.clock()
    grant = await provider.issue_join(as_provider_room(room), who, lifetime=services.settings.link_lifetime,
                                      previous=grants.previous(services.db, room.id, user_id, now))
    if grant.handle:
        grants.remember(services.db, room.id, user_id, dict(grant.handle), grant.expires_at)
    rooms.audit(services.db, team_id=team_id, user_id=user_id, action="room.join", room_id=room.id, role=str(who.role))
    return grant, str(who.role)


async def send_link(services: Services, room: RoomRecord, *, team_id: str, user_id: str, channel_id: str | None,
                    respond) -> None:
    grant, role = await personal_link(services, room, team_id=team_id, user_id=user_id, channel_id=channel_id)
    await send_private(
        services, user_id=user_id, channel_id=channel_id, respond=respond,
        text=f"Your personal link to {mrkdwn_escape(room.name)} ({role}): {grant.url}",
        blocks=join_reply_blocks(room, grant, role, services.clock()),
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
