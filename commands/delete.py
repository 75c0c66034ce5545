"""`/meet delete <room>`: a moderator deletes a room for good, after confirming in a modal; the room
message then says it no longer exists. Offered where the room's provider can delete rooms."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.errors import BadInput, ProviderNotFound
from bot.interactions import accept_submission, modal_metadata, open_modal
from bot.meetings import as_provider_room, confirm_answering, refresh_room_message, require_moderator
from bot.messaging import once_at_a_time
from bot.providers.base import Capability
from bot.text import mrkdwn_escape
from commands import schedule
from commands.router import Invocation, Router, Subcommand
from storage import grants, restreams, rooms, schedules

DOING = "delete the room"
DELETE_MODAL = "delete_room_modal"


def confirm_view(name: str, provider_title: str, metadata: str, *, streams: bool = False, recordings: str = "",
                 scheduled: int = 0) -> dict:
    """What deleting takes with it, as far as meetops knows it: only what the room's platform has (`streams`,
    a `recordings` link name to save them first) and its scheduled meetings."""
    goes = "every invite link" + (" and stream destination" if streams else "")
    text = (f"Delete *{mrkdwn_escape(name)}* for good? Its meeting room on {mrkdwn_escape(provider_title)} goes, "
            f"and with it {goes}. Anyone in a meeting there is disconnected.")
    if scheduled:
        text += (f" Its {'scheduled meeting is' if scheduled == 1 else f'{scheduled} scheduled meetings are'} "
                 "cancelled, a repeating series with all its dates.")
    if recordings:
        text += (" meetops won't list its recordings any more: save what you need first with "
                 f"`/meet recordings {recordings}`.")
    text += " This can't be undone."
    return {"type": "modal", "callback_id": DELETE_MODAL, "private_metadata": metadata,
            "title": {"type": "plain_text", "text": "Delete room?"},
            "submit": {"type": "plain_text", "text": "Delete"},
            "close": {"type": "plain_text", "text": "Keep it"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


async def delete_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet delete standup`.")
    room = await inv.room(" ".join(inv.args))
    provider = inv.services.provider(room)
    provider.require(Capability.DELETE_ROOM)
    require_moderator(inv.services, room, inv.user_id, DOING)
    await open_modal(inv.services, inv.trigger_id, confirm_view(
        room.name, provider.title, modal_metadata(channel=inv.channel_id, room=room.id),
        streams=Capability.RESTREAM in provider.capabilities,
        recordings=room.friendly_url if Capability.RECORDING_LINKS in provider.capabilities else "",
        scheduled=len(schedules.of_room(inv.services.db, room.id))))


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("delete", delete_command, "/meet delete <room>",
                          "delete a room for good, after you confirm (moderators)"))

    @app.view(DELETE_MODAL)
    async def delete_confirmed(ack, body, view, services) -> None:
        sent = await accept_submission(ack, services, body, {}, DOING)  # re-checks the moderator
        if sent is None:
            return
        room = sent.room
        async with once_at_a_time(services, f"delete:{room.id}") as first:
            if not first or room.status == "deleted":
                return
            provider = services.provider(room)
            provider.require(Capability.DELETE_ROOM)
            try:
                await provider.delete_room(as_provider_room(room))
            except ProviderNotFound:
                await confirm_answering(provider)  # already gone there counts as done, once that is certain
                said = (f"*{mrkdwn_escape(room.name)}* was already gone from {provider.title}; I've deleted it here "
                        "too.")
            else:
                said = f"*{mrkdwn_escape(room.name)}* is deleted."
            restreams.stop_all_in_room(services.db, room.id)
            grants.forget_room(services.db, room.id)  # the invites went with the room
            rooms.audit(services.db, team_id=sent.team_id, user_id=sent.user_id, action="room.delete",
                        room_id=room.id, provider=provider.name)
            if rooms.get(services.db, room.id):
                room = rooms.update(services.db, room.id, status="deleted", ended_by=sent.user_id)
                # A scheduled meeting's message says it is cancelled; any other room message says it is gone.
                if not await schedule.cancel_for_room(services, room, by=sent.user_id):
                    await refresh_room_message(services, room)
        await sent.reply(services, said)
