"""Block Kit builders shared by several features. Pure functions: data in, dicts out."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.text import mrkdwn_escape, people
from storage.rooms import RoomRecord

SANDBOX_NOTE = ":test_tube: Sandbox: a simulated Digital Samba, not a real meeting room."


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown length"
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


def room_status_text(room: RoomRecord) -> str:
    if room.status == "live":
        # Between "the session started" and "someone joined" the count is still 0: say only "Live".
        return f":red_circle: Live, {people(room.participants)} in the room" if room.participants else ":red_circle: Live"
    if room.status == "ended":
        text = ":white_check_mark: Ended"
        if room.session_started_at and room.session_ended_at:
            started = datetime.fromisoformat(room.session_started_at)
            ended = datetime.fromisoformat(room.session_ended_at)
            seconds = int((ended - started).total_seconds())
            text += f" after {format_duration(seconds)}" if seconds >= 60 else " within a minute"
        if room.participants:
            text += f", {people(room.participants)} took part"
        if room.ended_by:
            text += f" (ended by <@{room.ended_by}>)"
        return text
    if room.status == "deleted":
        return ":no_entry: This room no longer exists."
    return ":large_green_circle: Open, nobody has joined yet"


def room_message_blocks(
    room: RoomRecord,
    *,
    sandbox: bool,
    streaming_to: str | None = None,
) -> list[dict]:
    """The message a room lives in: what it is, what state it is in, and its buttons."""
    privacy = ":lock: Private (joinable with a personal link only)" if room.private else ":globe_with_meridians: Public"
    blocks = [
        HeaderBlock(text=room.name[:150]),
        SectionBlock(fields=[
            MarkdownTextObject(text=f"*Privacy*\n{privacy}"),
            MarkdownTextObject(text=f"*Started by*\n<@{room.creator_id}>"),
            MarkdownTextObject(text=f"*Status*\n{room_status_text(room)}"),
            MarkdownTextObject(text=f"*Link name*\n`{room.friendly_url}`"),
        ]),
    ]
    if streaming_to:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":satellite_antenna: *Streaming live to {mrkdwn_escape(streaming_to)}*")))
    if room.status != "deleted":
        blocks.append(ActionsBlock(block_id=ids.ROOM_ACTIONS_BLOCK, elements=room_buttons(room, streaming_to)))
    notes = ["Everyone who clicks *Join* gets their own link, visible only to them."]
    if sandbox:
        notes.append(SANDBOX_NOTE)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=n) for n in notes]))
    return [b.to_dict() for b in blocks]


def room_buttons(room: RoomRecord, streaming_to: str | None) -> list[ButtonElement]:
    buttons = [ButtonElement(text="Join", action_id=ids.JOIN, value=room.id, style="primary")]
    if room.status != "ended":
        buttons.append(ButtonElement(text="Poll", action_id=ids.POLL, value=room.id))
        if streaming_to:
            buttons.append(ButtonElement(text="Stop stream", action_id=ids.STOP_STREAM, value=room.id))
        else:
            buttons.append(ButtonElement(text="Go live", action_id=ids.GO_LIVE, value=room.id))
        buttons.append(ButtonElement(text="End", action_id=ids.END, value=room.id, style="danger"))
    if room.status == "ended":
        buttons.append(ButtonElement(text="Summary", action_id=ids.SUMMARY, value=room.id))
    return buttons


def superseded_message_blocks(room: RoomRecord) -> list[dict]:
    """An older message of a room posted again: it points to the newer one and keeps its Join button."""
    return [SectionBlock(
        text=MarkdownTextObject(text=f"*{mrkdwn_escape(room.name)}* has a newer message below, which shows the "
                                     "room as it is now."),
        accessory=ButtonElement(text="Join", action_id=ids.JOIN, value=room.id),
    ).to_dict()]


def room_message_text(room: RoomRecord) -> str:
    """The notification/fallback text of the room message."""
    return f"Meeting room {mrkdwn_escape(room.name)}: {room_status_text(room)}"


def join_reply_blocks(room: RoomRecord, link: str, role: str, hours: float) -> list[dict]:
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Here is your personal link to *{mrkdwn_escape(room.name)}* (you join as *{role}*). "
                     f"It works for {hours:g} hours and only for you: please don't share it."),
            accessory=ButtonElement(text="Open meeting", url=link, action_id=ids.OPEN_LINK, style="primary"),
        ).to_dict(),
    ]
