"""What button clicks and modal submissions share: the room they act on, where they came from, what was typed.

Every meetops modal carries `{"channel": ..., "room": ...}` as JSON in its
private_metadata, so a submission knows its room and the error boundary knows
where to answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.errors import BadInput, NotAllowed
from bot.meetings import acting_on, require_moderator, resolve_room
from bot.messaging import once_at_a_time, send_private
from bot.services import Services
from storage import rooms
from storage.rooms import RoomRecord


def modal_metadata(*, channel: str | None, room: str) -> str:
    return json.dumps({"channel": channel, "room": room})


def read_metadata(view: dict) -> dict:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def submitted_values(view: dict) -> dict[str, Any]:
    """block_id -> what was entered: text (None when empty), an option's value, or a list of values."""
    values: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for state in actions.values():
            if "selected_options" in state:
                values[block_id] = [o["value"] for o in state.get("selected_options") or []]
            elif "selected_option" in state:
                values[block_id] = (state.get("selected_option") or {}).get("value")
            else:
                values[block_id] = state.get("value")
    return values


def user_and_team(body: dict) -> tuple[str, str]:
    user = body.get("user") or {}
    return user["id"], (body.get("team") or {}).get("id") or user.get("team_id", "")


async def clicked_room(services: Services, body: dict, action: dict) -> RoomRecord:
    """The room a room-message button (value: the room id) acts on."""
    room = rooms.get(services.db, action.get("value") or "")
    if room is not None:
        return acting_on(room)
    _, team_id = user_and_team(body)
    # The button outlived the bot's memory of the room (or the room was made elsewhere).
    return await resolve_room(services, team_id, action.get("value") or "")


async def answer_room_button(services: Services, body: dict, action: dict, respond,
                             act: Callable[[RoomRecord, str, str | None], Awaitable[str | None]]) -> None:
    """A room-message button whose answer goes to the clicker only: `act(room, user, channel)` returns it."""
    room = await clicked_room(services, body, action)
    user_id, _ = user_and_team(body)
    channel_id = (body.get("channel") or {}).get("id")
    text = await act(room, user_id, channel_id)
    if text:
        await send_private(services, user_id=user_id, channel_id=channel_id, text=text, respond=respond)


async def open_modal(services: Services, trigger_id: str, view: dict) -> None:
    if not trigger_id:
        raise BadInput("Slack did not send what I need to open a form here. Please try again from the channel.")
    await services.slack.views_open(trigger_id=trigger_id, view=view)


def refusal_view(text: str) -> dict:
    """What a modal turns into when the person may not do what it asks."""
    return View(type="modal", title="Not allowed", close="Close",
                blocks=[SectionBlock(text=MarkdownTextObject(text=f":no_entry: {text}"))]).to_dict()


@dataclass(frozen=True)
class Submission:
    """A modal submission that may go on: who sent it, for which room, and where to answer."""

    room: RoomRecord
    user_id: str
    team_id: str
    channel: str | None

    async def reply(self, services: Services, text: str | None) -> None:
        if text:
            await send_private(services, user_id=self.user_id, channel_id=self.channel, text=text)


async def accept_submission(ack, services: Services, body: dict, errors: dict[str, str], doing: str) -> Submission | None:
    """Answer a modal submission, then return it if the work may go on.

    Inline errors keep the modal open; a non-moderator's modal turns into a polite
    refusal. Both answers are decided from the form and the database only, before
    any call to the provider: a submission is re-checked, never trusted.
    """
    if errors:
        await ack(response_action="errors", errors=errors)
        return None
    user_id, team_id = user_and_team(body)
    meta = read_metadata(body.get("view") or {})
    room = rooms.get(services.db, meta.get("room") or "")
    if room is not None:
        acting_on(room)
        try:
            require_moderator(services, room, user_id, doing)
        except NotAllowed as refused:
            await ack(response_action="update", view=refusal_view(refused.user_message))
            return None
    await ack()
    if room is None:  # a room made outside meetops: only admins moderate it
        room = await resolve_room(services, team_id, meta.get("room") or "")
        require_moderator(services, room, user_id, doing)
    return Submission(room=room, user_id=user_id, team_id=team_id, channel=meta.get("channel"))


async def open_room_form(services: Services, body: dict, action: dict, doing: str,
                         form: Callable[[str, str], dict],
                         precheck: Callable[[Services, RoomRecord], Awaitable[None]] | None = None) -> None:
    """A room-message button that opens a form (`form(room name, metadata)`), for the room's moderators only.

    `precheck` may refuse (raise) before the form asks anyone to type anything."""
    room = await clicked_room(services, body, action)
    user_id, _ = user_and_team(body)
    # A double click opens one form, however long the precheck takes (it may ask the provider).
    async with once_at_a_time(services, f"form:{form.__name__}:{room.id}:{user_id}") as first:
        if not first:
            return
        require_moderator(services, room, user_id, doing)
        if precheck is not None:
            await precheck(services, room)
        channel = (body.get("channel") or {}).get("id")
        await open_modal(services, body.get("trigger_id", ""),
                         form(room.name, modal_metadata(channel=channel, room=room.id)))
