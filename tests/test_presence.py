"""Live counts on platforms that send no participant events: meetops asks while a meeting may be running."""

from __future__ import annotations

from commands.presence import check_presence
from storage import rooms
from storage import sessions as session_log
from tests.test_rooms import room_messages


async def test_a_meeting_nobody_reported_shows_up_live_then_ended(harness, ada, sandbox):
    provider = harness.services.providers.default
    provider.participant_events = False  # as if its webhooks said nothing about people
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await ada.acommand("join standup")  # someone got a link: the room may go live
    await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    await check_presence(harness.services)
    assert rooms.find(harness.services.db, "T0001", "standup").status == "open", "nobody in it yet"

    for name in ("Grace", "Linus"):
        (await sandbox.post("/_sandbox/rooms/standup/join", json={"name": name})).raise_for_status()
    await check_presence(harness.services)
    room = rooms.find(harness.services.db, "T0001", "standup")
    assert (room.status, room.participants) == ("live", 2)
    message = await harness.double.wait_for(lambda: next(
        (m for m in harness.double.messages("C0001") if "2 people in the room" in str(m.blocks)), None))
    assert message.ts == room.message_ts
    assert [s.state for s in session_log.live_in(harness.services.db)] == ["live"]

    calls, (_, seen) = len(harness.sandbox_state.requests), harness.double.events_since(0)
    await check_presence(harness.services)  # asked again, nothing changed: the message is left alone
    assert len(harness.sandbox_state.requests) > calls
    assert harness.double.events_since(seen)[0] == []

    (await sandbox.post("/_sandbox/rooms/standup/end")).raise_for_status()
    await check_presence(harness.services)
    assert rooms.find(harness.services.db, "T0001", "standup").status == "ended"
    assert not session_log.live_in(harness.services.db)
    await harness.double.wait_for(lambda: any("Ended" in str(m.blocks) for m in harness.double.messages("C0001")))


async def test_platforms_with_participant_events_are_not_asked(harness, ada, sandbox):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await ada.acommand("join standup")
    await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    harness.sandbox_state.requests.clear()
    await check_presence(harness.services)
    assert not harness.sandbox_state.requests
