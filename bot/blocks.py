"""Block Kit builders shared by several features. Pure functions: data in, dicts out."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.providers.base import Capabilities, Capability, JoinGrant
from bot.text import mrkdwn_escape, natural_duration, people, plural
from storage.rooms import RoomRecord


def sandbox_note(title: str) -> str:
    return f":test_tube: Sandbox: a simulated {title}, not a real meeting room."


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown length"
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


def room_status_text(room: RoomRecord, *, knows_presence: bool = True, counts_links: bool = False,
                     recording: bool = False) -> str:
    """`counts_links`: the platform counts links handed out, not people in the meeting (so it never says
    "people in the room" of links nobody has opened). `recording`: the platform is recording the room's
    meeting, so one is running, even before meetops has heard who is in it."""
    if room.status == "open" and recording:
        return ":red_circle: Live"
    if room.status == "live":
        # Between "the session started" and "someone joined" the count is still 0: say only "Live".
        if not room.participants:
            return ":red_circle: Live"
        if counts_links:
            return f":red_circle: Live, {plural(room.participants, 'link')} handed out"
        return f":red_circle: Live, {people(room.participants)} in the room"
    if room.status == "ended":
        text = ":white_check_mark: Ended"
        if room.session_started_at and room.session_ended_at:
            started = datetime.fromisoformat(room.session_started_at)
            ended = datetime.fromisoformat(room.session_ended_at)
            seconds = int((ended - started).total_seconds())
            text += f" after {format_duration(seconds)}" if seconds >= 60 else " within a minute"
        if room.participants:
            text += (f", {plural(room.participants, 'link')} handed out" if counts_links
                     else f", {people(room.participants)} took part")
        if room.ended_by:
            text += f" (ended by <@{room.ended_by}>)"
        return text
    if room.status == "deleted":
        return ":no_entry: This room no longer exists."
    # A provider that tells meetops nothing about who is in a meeting: never claim to know.
    return ":large_green_circle: Open, nobody has joined yet" if knows_presence else ":large_green_circle: Open"


def room_message_blocks(
    room: RoomRecord,
    *,
    capabilities: Capabilities,
    provider_title: str,
    emulated: bool,
    streaming_to: str | None = None,
    stream_in_meeting: bool = False,
    recording: bool = False,
    reopens: bool = True,
    counts_links: bool = False,
) -> list[dict]:
    """The message a room lives in: what it is, what state it is in, and the buttons its provider allows.
    A room that can't `reopen` (its platform's room is the meeting) has no Join once its meeting ended."""
    privacy = ":lock: Private (joinable with a personal link only)" if room.private else ":globe_with_meridians: Public"
    knows = Capability.LIVE_STATUS in capabilities or Capability.WEBHOOKS in capabilities
    fields = [
        MarkdownTextObject(text=f"*Privacy*\n{privacy}"),
        MarkdownTextObject(text=f"*Started by*\n<@{room.creator_id}>"),
        MarkdownTextObject(
            text="*Status*\n" + room_status_text(room, knows_presence=knows, counts_links=counts_links,
                                                 recording=recording)),
        MarkdownTextObject(text=f"*Link name*\n`{room.friendly_url}`"),
    ]
    # The platform's facts (a dial-in number and PIN) are how to reach the room: gone with it.
    fields += [MarkdownTextObject(text=f"*{mrkdwn_escape(label)}*\n{mrkdwn_escape(value)}")
               for label, value in (room.facts if room.status != "deleted" else ())][:10 - len(fields)]
    blocks = [HeaderBlock(text=room.name[:150]), SectionBlock(fields=fields)]
    if streaming_to and stream_in_meeting:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f":satellite_antenna: *{mrkdwn_escape(streaming_to)} is ready as the stream destination.* "
                 "Start the stream from the meeting's own livestream control.")))
    elif streaming_to:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":satellite_antenna: *Streaming live to {mrkdwn_escape(streaming_to)}*")))
    if recording and room.status != "ended":
        blocks.append(SectionBlock(text=MarkdownTextObject(text=":record_button: *Recording*")))
    closed = room.status == "ended" and not reopens
    if closed:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"This meeting is over, and a {mrkdwn_escape(provider_title)} room can't host another one: "
                 f"`/meet new {mrkdwn_escape(room.name)}` makes a new room.")))
    buttons = room_buttons(room, capabilities, streaming_to, recording, reopens=reopens,
                           stream_in_meeting=stream_in_meeting) \
        if room.status != "deleted" else []
    if buttons:
        blocks.append(ActionsBlock(block_id=ids.ROOM_ACTIONS_BLOCK, elements=buttons))
    notes = ["Everyone who clicks *Join* gets their own link, visible only to them."] \
        if room.status != "deleted" and not closed else []
    if emulated:
        notes.append(sandbox_note(provider_title))
    elif provider_title:
        notes.append(f"Meets on {provider_title}.")
    if notes:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=n) for n in notes]))
    return [b.to_dict() for b in blocks]


def room_buttons(room: RoomRecord, capabilities: Capabilities, streaming_to: str | None,
                 recording: bool = False, *, reopens: bool = True,
                 stream_in_meeting: bool = False) -> list[ButtonElement]:
    """Only what the room's provider can do: a button that could only answer "not available" is left out."""
    buttons = []
    if room.status != "ended" or reopens:
        buttons.append(ButtonElement(text="Join", action_id=ids.JOIN, value=room.id, style="primary"))
    if room.status != "ended":
        # Providers without a poll API get polls that run in Slack, so Poll is always there.
        buttons.append(ButtonElement(text="Poll", action_id=ids.POLL, value=room.id))
        if Capability.RESTREAM in capabilities:
            if streaming_to:  # a destination the meeting streams to when started there is removed, not stopped
                buttons.append(ButtonElement(text="Remove destination" if stream_in_meeting else "Stop stream",
                                             action_id=ids.STOP_STREAM, value=room.id))
            else:
                buttons.append(ButtonElement(text="Go live", action_id=ids.GO_LIVE, value=room.id))
        if Capability.RECORDING in capabilities:
            if recording:
                buttons.append(ButtonElement(text="Stop recording", action_id=ids.STOP_RECORDING, value=room.id))
            else:
                buttons.append(ButtonElement(text="Record", action_id=ids.RECORD, value=room.id))
        if Capability.END_SESSION in capabilities:
            # Where the room is the meeting, ending it is for good: Slack asks before it sends the click.
            confirm = None if reopens else ConfirmObject(
                title="End the meeting for good?", confirm="End it", deny="Keep it",
                text=f"*{mrkdwn_escape(room.name)}* can't host another meeting once this one ends: everyone leaves, "
                     f"and `/meet new` makes a new room for the next one.")
            buttons.append(ButtonElement(text="End", action_id=ids.END, value=room.id, style="danger", confirm=confirm))
    if room.status == "ended" and Capability.SUMMARIES in capabilities:
        buttons.append(ButtonElement(text="Summary", action_id=ids.SUMMARY, value=room.id))
    return buttons


def superseded_message_blocks(room: RoomRecord, newer_channel: str | None = None) -> list[dict]:
    """An older message of a room posted again: it points to the newer one (below, or in `newer_channel`
    when that is another channel) and keeps its Join button."""
    where = f"in <#{newer_channel}>" if newer_channel and newer_channel != room.message_channel else "below"
    return [SectionBlock(
        text=MarkdownTextObject(text=f"*{mrkdwn_escape(room.name)}* has a newer message {where}, which shows the "
                                     "room as it is now."),
        accessory=ButtonElement(text="Join", action_id=ids.JOIN, value=room.id),
    ).to_dict()]


def room_message_text(room: RoomRecord) -> str:
    """The notification/fallback text of the room message."""
    return f"Meeting room {mrkdwn_escape(room.name)}: {room_status_text(room)}"


def join_validity(grant: JoinGrant, now: datetime) -> str:
    """How long the link works and who can use it, in words."""
    if grant.expires_at is None:
        text = grant.note or "It works as long as the meeting runs."
        return text + (" It is for you only: please don't share it." if grant.identity_bound else
                       " Anyone holding it can get in, so please don't share it.")
    lasts = natural_duration(grant.expires_at - now)
    if grant.identity_bound:
        text = f"It works for {lasts} and only for you: please don't share it."
    else:
        text = (f"Anyone holding this link can enter with it for the next {lasts} (it can't be tied to one "
                "person), so please don't share it.")
    return f"{text} {grant.note}".strip() if grant.note else text


def _entering_as(grant: JoinGrant, role: str) -> str:
    """The role the link really enters with: a guest's link never makes a moderator, whatever meetops thinks."""
    return "guest" if grant.guest else role


def invitation_blocks(room: RoomRecord, grant: JoinGrant, role: str, inviter_id: str, now: datetime) -> list[dict]:
    """The DM an invited person gets: who invited them, to which room, and their own link."""
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"<@{inviter_id}> invited you to *{mrkdwn_escape(room.name)}*"
                     + (f" in <#{room.channel_id}>" if room.channel_id else "")
                     + f". Here is your personal link (you join as *{_entering_as(grant, role)}*). "
                       f"{join_validity(grant, now)}"),
            accessory=ButtonElement(text="Open meeting", url=grant.url, action_id=ids.OPEN_LINK, style="primary"),
        ).to_dict(),
    ]


def join_reply_blocks(room: RoomRecord, grant: JoinGrant, role: str, now: datetime) -> list[dict]:
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Here is your personal link to *{mrkdwn_escape(room.name)}* (you join as "
                     f"*{_entering_as(grant, role)}*). "
                     f"{join_validity(grant, now)}"),
            accessory=ButtonElement(text="Open meeting", url=grant.url, action_id=ids.OPEN_LINK, style="primary"),
        ).to_dict(),
    ]


def recording_ready_blocks(text: str, recording_id: str) -> list[dict]:
    """A recording is ready: its link is fetched fresh when someone clicks (links may expire), and shown
    to that person only."""
    return [SectionBlock(
        text=MarkdownTextObject(text=text),
        accessory=ButtonElement(text="Get recording", action_id=ids.GET_RECORDING, value=recording_id[:2000]),
    ).to_dict()]
