"""A Chalk meeting through the real app over HTTP, on the Chalk emulator: what its room message says while a
recording runs and once the recording (which Chalk sends after the meeting) arrives, and what a room whose
meeting is over for good still takes."""

from __future__ import annotations

import httpx
import pytest

from bot import ids
from storage import rooms
from storage.records import fetch
from tests.test_invite_and_kick import ADA, ada, chalk, room_messages  # noqa: F401 (the Chalk harness and Ada)


def status_of(message) -> str:
    return next(f["text"] for b in message.blocks for f in b.get("fields") or [] if f["text"].startswith("*Status*"))


async def joined_room(harness, ada) -> rooms.RoomRecord:
    """`/meet new standup`, then Ada clicks Join and opens her link: she is in the meeting."""
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await ada.aclick(message, ids.JOIN)
    reply = await harness.double.wait_for(
        lambda: next((e for e in harness.double.ephemerals(ADA) if "personal link" in e.text), None))
    link = next(b["accessory"]["url"] for b in reply.blocks if b.get("accessory", {}).get("url"))
    assert httpx.get(link).status_code == 200
    return rooms.find(harness.services.db, "T0001", "standup")


async def test_a_room_being_recorded_never_says_nobody_has_joined(chalk, ada):
    await joined_room(chalk, ada)
    # Chalk sends no word of who joined: meetops asks on a timer, and the timer hasn't come round yet.
    await ada.acommand("record standup")
    recording = await chalk.double.wait_for(
        lambda: next((m for m in room_messages(chalk) if "*Recording*" in str(m.blocks)), None))
    assert status_of(recording) == "*Status*\n:red_circle: Live"


async def test_the_recording_arriving_after_the_end_keeps_who_ended_it_and_one_meeting(chalk, ada):
    room = await joined_room(chalk, ada)
    await ada.acommand("end standup")
    ended = await chalk.double.wait_for(
        lambda: next((m for m in room_messages(chalk) if "ended by" in status_of(m)), None))
    assert "(ended by <@U0001>)" in status_of(ended)

    # Chalk tells the meeting's start and end again with its recording.
    emulator = chalk.runtime.emulators["chalk"]
    httpx.post(f"{emulator.url}/_sandbox/rooms/{room.id}/recording", json={}).raise_for_status()
    await chalk.double.wait_for(lambda: [m for m in chalk.double.messages("C0001")
                                         if m.thread_ts and "recording" in m.text.lower()])
    await chalk.wait_idle()

    assert "(ended by <@U0001>)" in status_of(room_messages(chalk)[-1])
    # One meeting in meetops' log (its digests count them), not a second one opened by the late news.
    assert len(list(fetch(chalk.services.db, "select * from sessions where room_id = ?", [room.id]))) == 1


@pytest.mark.parametrize("command", ['poll standup "Still voting?" "A" "B"', "poll standup", "record standup",
                                     "invite standup @grace", "join standup"])
async def test_a_room_whose_meeting_is_over_for_good_refuses_what_needs_a_meeting(chalk, ada, command):
    room = await joined_room(chalk, ada)
    await ada.acommand("end standup")
    await chalk.double.wait_for(lambda: [e for e in chalk.double.ephemerals(ADA) if "has ended" in e.text])
    before = len(chalk.double.ephemerals(ADA))
    await ada.acommand(command)
    reply = await chalk.double.wait_for(lambda: chalk.double.ephemerals(ADA)[before:] and
                                        chalk.double.ephemerals(ADA)[before])
    assert ("The meeting in *standup* is over, and a Chalk room can't host another one. `/meet new standup` makes "
            "a new room.") in reply.text
    assert chalk.double.views == [] and not chalk.double.dms("U0002")
    assert not [m for m in chalk.double.messages("C0001") if m.thread_ts and "Still voting" in str(m.blocks)]


async def test_the_digest_counts_a_chalk_meetings_links_not_people(chalk, ada):
    """Chalk counts links handed out, not people in the meeting: the room message says so, the digest said
    "1 person"."""
    await joined_room(chalk, ada)
    await ada.acommand("end standup")
    await chalk.double.wait_for(lambda: [e for e in chalk.double.ephemerals(ADA) if "has ended" in e.text])
    await ada.acommand("digest now")
    digest = await chalk.double.wait_for(
        lambda: next((m for m in chalk.double.messages("C0001") if m.text.startswith("Meetings digest")), None))
    line = next(line for line in str(digest.blocks).split("\\n") if "*standup*" in line)
    assert "link handed out" in line and "person" not in line, line


async def test_meet_summary_points_to_a_summary_already_posted_while_the_meeting_looked_live(chalk, ada):
    """Chalk's summary comes with its recording; when that came before meetops saw the meeting end, /meet summary
    said "still going. Its summary comes once it ends" with the summary in the thread above."""
    room = await joined_room(chalk, ada)
    emulator = chalk.runtime.emulators["chalk"]
    httpx.post(f"{emulator.url}/_sandbox/rooms/{room.id}/recording", json={}).raise_for_status()
    await chalk.double.wait_for(lambda: [m for m in chalk.double.messages("C0001")
                                         if m.thread_ts and "summary" in m.text.lower()])
    await chalk.wait_idle()
    before = len(chalk.double.ephemerals(ADA))
    await ada.acommand("summary standup")
    reply = await chalk.double.wait_for(lambda: chalk.double.ephemerals(ADA)[before:] and
                                        chalk.double.ephemerals(ADA)[before])
    assert "is already in" in reply.text, reply.text
