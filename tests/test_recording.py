"""Recording from Slack on Digital Samba, through the real app over HTTP: Record and Stop recording on the room
message and `/meet record`, and what a person hears when there is no meeting to record."""

from __future__ import annotations

from bot import ids
from tests.test_polls import new_room
from tests.test_rooms import buttons, room_messages


def current(harness, message):
    return next(m for m in room_messages(harness) if m.ts == message.ts)


def room_session(harness, room) -> str:
    from storage import rooms

    return rooms.get(harness.services.db, room.id).session_id


def recording_calls(harness, action):
    return harness.sandbox_state.requests_matching("POST", f"/recordings/{action}")


async def warning_to(harness, user_id):
    return await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals(user_id) if ":warning:" in e.text), None))


async def test_a_room_nobody_has_joined_says_there_is_no_meeting_to_record(harness, ada, sandbox):
    room, message = await new_room(harness, ada)
    await ada.acommand("record standup")
    reply = await warning_to(harness, "U0001")
    # Not "the meeting has ended": it never started.
    assert "no meeting running in *standup*" in reply.text and "once people have joined" in reply.text
    assert "ended" not in reply.text and "live session" not in reply.text
    assert ids.RECORD in buttons(current(harness, message))

    # Once someone is in, the same command records (`start` said or not): the refusal left nothing claimed.
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await ada.acommand("record standup start")
    started = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "is being recorded" in e.text), None))
    assert "`/meet record standup stop`" in started.text
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(current(harness, message)))
    assert len(recording_calls(harness, "start")) == 2  # the refused one and this one


async def test_record_and_stop_from_the_room_message(harness, ada, sandbox):
    room, message = await new_room(harness, ada)
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await ada.aclick(message, ids.RECORD)
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(current(harness, message)))
    assert ":record_button: *Recording*" in str(current(harness, message).blocks)

    await ada.aclick(current(harness, message), ids.STOP_RECORDING)
    stopped = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "has stopped" in e.text), None))
    assert "When it is ready, the room's thread says so, with a way to download it." in stopped.text
    await harness.double.wait_for(lambda: ids.RECORD in buttons(current(harness, message)))
    assert "*Recording*" not in str(current(harness, message).blocks)
    assert (len(recording_calls(harness, "start")), len(recording_calls(harness, "stop"))) == (1, 1)


async def test_recordings_lists_what_was_recorded_with_a_fresh_link(harness, ada, sandbox):
    """`/meet recordings` on Digital Samba (it answered "That isn't available on Digital Samba rooms: " with
    no reason, although Digital Samba has recording links)."""
    room, message = await new_room(harness, ada)
    await ada.acommand("recordings standup")
    empty = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "no recordings yet" in e.text), None))
    assert "*Record* on the room message or `/meet record standup`" in empty.text

    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await ada.aclick(message, ids.RECORD)
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(current(harness, message)))
    await ada.aclick(current(harness, message), ids.STOP_RECORDING)
    await harness.double.wait_for(lambda: ids.RECORD in buttons(current(harness, message)))
    await ada.acommand("recordings standup")
    listed = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "recording of standup" in e.text), None))
    shown = listed.text + str(listed.blocks)
    assert "*1 recording of standup*" in listed.text and "/files/" in shown and ".mp4?expires=" in shown
    assert len(harness.sandbox_state.requests_matching("GET", "/download")) == 1  # asked for when handed out


async def test_a_recording_ends_with_its_meeting_and_the_next_meeting_can_record(harness, ada, sandbox):
    """Ending a meeting while it recorded left the room "being recorded" at Digital Samba: the next
    meeting's Record answered "already being recorded", and the first recording never appeared."""
    room, message = await new_room(harness, ada)
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await ada.aclick(message, ids.RECORD)
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(current(harness, message)))
    await ada.acommand("end standup")
    await harness.double.wait_for(lambda: ids.RECORD not in buttons(current(harness, message))
                                  and ids.STOP_RECORDING not in buttons(current(harness, message)))
    # The meeting's recording is stored (Digital Samba then sends recording_ready, as for a stopped one).
    [stored] = await harness.double.wait_for(lambda: list(harness.sandbox_state.recordings.values()), timeout=2)
    assert stored.session_id == room_session(harness, room)
    # The next meeting records as usual.
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Linus"})
    await ada.acommand("record standup")
    started = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "is being recorded" in e.text or ":warning:" in e.text),
        None))
    assert "is being recorded" in started.text, started.text


async def test_a_start_answered_too_late_can_still_be_stopped(harness, ada, sandbox):
    """Digital Samba starts the recording after meetops stopped waiting (2 s): meetops believes nothing records,
    yet Stop asks the platform, which stops it; a second Stop hears there is nothing to stop."""
    room, message = await new_room(harness, ada)
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 3000, "paths": f"/rooms/{room.id}/recordings"})
     ).raise_for_status()
    await ada.acommand("record standup")
    late = await warning_to(harness, "U0001")
    assert "may have started anyway: `/meet record standup stop` stops it if so" in late.text
    await harness.double.wait_for(lambda: room.id in harness.sandbox_state.recording_rooms)
    (await sandbox.delete("/_sandbox/faults")).raise_for_status()

    await ada.acommand("record standup stop")
    stopped = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "has stopped" in e.text), None))
    assert stopped.text.startswith("The recording of *standup* has stopped.")
    assert room.id not in harness.sandbox_state.recording_rooms
    await ada.acommand("record standup stop")
    await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "is not being recorded" in e.text), None))
