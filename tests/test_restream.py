"""Livestreams through the real app over HTTP: Go live, Stop, refusals, double clicks, and a key that leaves no trace."""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import secrets

from bot import ids
from bot.sandbox.digitalsamba.models import Faults
from storage import restreams
from tests.test_polls import new_room, open_form, reply_to, text_of
from tests.test_rooms import buttons, room_messages

KEY = "sk-live-0d5e8a"


def stream_form(destination="youtube", key=KEY, url=None) -> dict:
    return {ids.RESTREAM_DESTINATION_BLOCK: {ids.RESTREAM_DESTINATION: destination},
            ids.RESTREAM_URL_BLOCK: {ids.RESTREAM_URL: url},
            ids.RESTREAM_KEY_BLOCK: {ids.RESTREAM_KEY: key}}


def starts(harness):
    return harness.sandbox_state.requests_matching("POST", "/restreamers/start")


def stops(harness):
    return harness.sandbox_state.requests_matching("POST", "/restreamers/stop")


def current(harness, message):
    return next(m for m in room_messages(harness) if m.ts == message.ts)


async def live_room(harness, ada, sandbox):
    room, message = await new_room(harness, ada)
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    return room, message


async def go_live(harness, user, message, values):
    form = await open_form(harness, user, message, ids.GO_LIVE)
    return await user.asubmit(form, values)


async def test_go_live_then_stop_from_the_room_message(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    form = await open_form(harness, ada, message, ids.GO_LIVE)
    assert form.view["callback_id"] == ids.RESTREAM_MODAL
    assert json.loads(form.view["private_metadata"]) == {"channel": "C0001", "room": room.id}
    await ada.asubmit(form, stream_form("youtube"))

    streaming = await harness.double.wait_for(
        lambda: "Streaming live to YouTube" in text_of(current(harness, message)) and current(harness, message))
    assert ids.STOP_STREAM in buttons(streaming) and ids.GO_LIVE not in buttons(streaming)
    [start] = starts(harness)
    assert start.json == {"type": "youtube", "stream_key": "***"}, "a type, no server_url (the sandbox masks the key)"
    assert "streaming live to YouTube" in (await reply_to(harness, "U0001")).text
    state = restreams.get(harness.services.db, room.id)
    assert (state.state, state.destination, state.started_by) == ("live", "YouTube", "U0001")

    await ada.aclick(streaming, ids.STOP_STREAM)
    stopped = await harness.double.wait_for(
        lambda: ids.GO_LIVE in buttons(current(harness, message)) and current(harness, message))
    assert "Streaming live" not in text_of(stopped) and len(stops(harness)) == 1
    assert "has stopped" in (await reply_to(harness, "U0001", 2)).text
    assert restreams.get(harness.services.db, room.id).state == "idle"


async def test_a_custom_server_gets_only_its_url_and_the_message_shows_only_its_host(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    url = "rtmps://live.example.com:4443/app/private-path"
    await go_live(harness, ada, message, stream_form("custom", url=url))
    await harness.double.wait_for(lambda: "Streaming live to rtmps://live.example.com:4443*" in
                                  text_of(current(harness, message)))
    assert starts(harness)[0].json == {"server_url": url, "stream_key": "***"}
    assert "private-path" not in str(harness.double.calls)


async def test_the_slash_command_opens_the_form_and_stops_the_stream(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await ada.acommand("restream standup")
    form = await harness.double.wait_for(lambda: harness.double.views and harness.double.views[-1])
    assert form.view["callback_id"] == ids.RESTREAM_MODAL
    await ada.asubmit(form, stream_form("vimeo"))
    await harness.double.wait_for(lambda: "Streaming live to Vimeo" in text_of(current(harness, message)))
    await ada.acommand("restream standup stop")
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
    assert len(stops(harness)) == 1


async def test_form_errors_are_inline_and_nothing_is_called(harness, ada, sandbox):
    _, message = await live_room(harness, ada, sandbox)
    form = await open_form(harness, ada, message, ids.GO_LIVE)
    cases = [
        (stream_form(url="rtmp://a.example.com/live"), ids.RESTREAM_URL_BLOCK),
        (stream_form("custom"), ids.RESTREAM_URL_BLOCK),
        (stream_form("custom", url="http://a.example.com/live"), ids.RESTREAM_URL_BLOCK),
        (stream_form(key=""), ids.RESTREAM_KEY_BLOCK),
    ]
    for values, block in cases:
        answer = (await ada.asubmit(form, values)).json()
        assert answer["response_action"] == "errors" and list(answer["errors"]) == [block]
    assert not starts(harness)


async def test_a_room_nobody_is_in_cannot_go_live_and_can_once_someone_joins(harness, ada, sandbox):
    room, message = await new_room(harness, ada)
    await ada.aclick(message, ids.GO_LIVE)
    refusal = await reply_to(harness, "U0001")
    assert "Nobody is in *standup* yet" in refusal.text and "Join the room first" in refusal.text
    assert not harness.double.views, "no form asks for a stream key that can't be used"

    # Everyone leaves while the form is open: Digital Samba's refusal is shown and nothing changes.
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    form = await open_form(harness, ada, message, ids.GO_LIVE)
    await sandbox.post("/_sandbox/rooms/standup/leave", json={"name": "Grace"})
    await ada.asubmit(form, stream_form())
    refusal = await reply_to(harness, "U0001", 2)
    assert refusal.text == (":warning: The meeting in *standup* has ended, so there is nothing to stream; start it "
                            "again (join the room) and Go live.")
    assert restreams.get(harness.services.db, room.id).state == "idle", "rolled back"
    assert ids.GO_LIVE in buttons(current(harness, message))

    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await go_live(harness, ada, message, stream_form())
    await harness.double.wait_for(lambda: "Streaming live to YouTube" in text_of(current(harness, message)))
    assert len(starts(harness)) == 2


async def test_a_rejected_stream_key_is_explained(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await go_live(harness, ada, message, stream_form(key="invalid"))
    refusal = await reply_to(harness, "U0001")
    assert refusal.text == ":warning: Digital Samba said no: The stream key was rejected by the destination."
    assert restreams.get(harness.services.db, room.id).state == "idle"


async def test_double_clicks_make_one_call_each(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    harness.double.latency(0.2)
    await asyncio.gather(ada.aclick(message, ids.GO_LIVE), ada.aclick(message, ids.GO_LIVE))
    await harness.double.wait_idle(quiet=0.3)
    harness.double.reset_faults()
    assert len(harness.double.calls_to("views.open")) == 1, "one form"
    form = harness.double.views[-1]

    harness.sandbox_state.faults = Faults(latency_ms=300, paths=f"/rooms/{room.id}/restreamers")
    await asyncio.gather(ada.asubmit(form, stream_form()), ada.asubmit(form, stream_form()))
    streaming = await harness.double.wait_for(
        lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
    await asyncio.gather(ada.aclick(streaming, ids.STOP_STREAM), ada.aclick(streaming, ids.STOP_STREAM))
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
    await harness.double.wait_idle(quiet=0.4)

    assert len(starts(harness)) == 1 and len(stops(harness)) == 1
    assert len(harness.double.history(message.channel, message.ts)) == 3, "posted, live, stopped"
    assert len(harness.double.ephemerals("U0001")) == 2, "one confirmation per action"


async def test_only_moderators_may_start_or_stop_a_stream(harness, ada, grace, linus, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await grace.aclick(message, ids.GO_LIVE)
    refusal = await reply_to(harness, "U0002")
    assert "Only the room's moderators can start a livestream" in refusal.text
    assert not harness.double.calls_to("views.open")
    await grace.acommand("restream standup")
    await reply_to(harness, "U0002", 2)

    form = await open_form(harness, ada, message, ids.GO_LIVE)
    answer = (await grace.asubmit(form, stream_form())).json()
    assert answer["response_action"] == "update" and "Only the room's moderators" in json.dumps(answer["view"])
    assert not starts(harness)

    await ada.asubmit(form, stream_form())
    streaming = await harness.double.wait_for(
        lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
    await grace.aclick(streaming, ids.STOP_STREAM)
    await grace.acommand("restream standup stop")
    refusals = await reply_to(harness, "U0002", 4)
    assert "Only the room's moderators can stop the livestream" in refusals.text
    assert not stops(harness) and restreams.get(harness.services.db, room.id).state == "live"

    await linus.aclick(streaming, ids.STOP_STREAM)  # an admin
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
    assert len(stops(harness)) == 1


async def test_the_stream_survives_a_restart_and_stops_after_it(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await go_live(harness, ada, message, stream_form())
    streaming = await harness.double.wait_for(
        lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
    await harness.stop_bot()
    await harness.start_bot()
    assert restreams.get(harness.services.db, room.id).state == "live"
    ada = ada.__class__(harness.events_url, ada.signing_secret, harness.double, user_id="U0001")
    await ada.aclick(streaming, ids.STOP_STREAM)
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
    assert len(stops(harness)) == 1
    await ada.aclose()


async def test_stop_when_the_stream_already_ended_clears_the_message(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await go_live(harness, ada, message, stream_form())
    streaming = await harness.double.wait_for(
        lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
    await sandbox.post("/_sandbox/rooms/standup/end", json={})  # everyone left: the stream ended with the session
    await ada.aclick(streaming, ids.STOP_STREAM)
    reply = await reply_to(harness, "U0001", 2)
    assert "The room is not restreaming." in reply.text and "marked the stream as stopped" in reply.text
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))


async def test_ending_the_session_ends_the_stream_on_the_room_message(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await go_live(harness, ada, message, stream_form())
    await harness.double.wait_for(lambda: ids.STOP_STREAM in buttons(current(harness, message)))
    await ada.acommand("end standup")
    ended = await harness.double.wait_for(
        lambda: "Ended" in text_of(current(harness, message)) and current(harness, message))
    assert "Streaming live" not in text_of(ended)


async def test_the_stream_key_leaves_no_trace(harness, ada, grace, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    key = "sk-" + secrets.token_hex(12)
    room, message = await live_room(harness, ada, sandbox)
    form = await open_form(harness, ada, message, ids.GO_LIVE)
    await sandbox.post("/_sandbox/rooms/standup/leave", json={"name": "Grace"})
    await ada.asubmit(form, stream_form(key=key))  # refused by Digital Samba: nobody is in the room
    await reply_to(harness, "U0001")
    refused = await grace.asubmit(form, stream_form(key=key))  # refused: not a moderator
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await ada.asubmit(form, stream_form("custom", key=key, url="rtmp://stream.example.com/app"))
    streaming = await harness.double.wait_for(
        lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
    await ada.aclick(streaming, ids.STOP_STREAM)
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
    await harness.stop_bot()  # flush and close the database
    assert len(starts(harness)) == 2

    logged = caplog.text + "".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "restreamers/start" in logged, "the log was captured"
    assert key not in logged
    slack = repr(harness.double.calls) + repr(harness.double.responses) + repr(harness.double.ephemerals())
    assert "Streaming live to rtmp://stream.example.com" in slack and key not in slack
    assert key not in refused.text
    database = pathlib.Path(harness.db_path)
    files = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    assert files and all(key.encode() not in p.read_bytes() for p in files)


async def test_going_live_twice_says_so_before_asking_for_a_key(harness, ada, sandbox):
    room, message = await live_room(harness, ada, sandbox)
    await go_live(harness, ada, message, stream_form())
    await harness.double.wait_for(lambda: "Streaming live to YouTube" in text_of(current(harness, message)))
    opened = len(harness.double.views)
    await ada.acommand("restream standup")
    refusal = await reply_to(harness, "U0001", 2)
    assert "already streaming live to YouTube" in refusal.text and "restream standup stop" in refusal.text
    assert len(harness.double.views) == opened and len(starts(harness)) == 1


async def test_a_stream_started_too_late_can_still_be_stopped(harness, ada, sandbox):
    """Digital Samba starts the stream after meetops stopped waiting (2 s): Stop still asks it, and it stops."""
    room, message = await live_room(harness, ada, sandbox)
    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 3000, "paths": f"/rooms/{room.id}/restreamers"})
     ).raise_for_status()
    await go_live(harness, ada, message, stream_form("youtube"))
    late = await reply_to(harness, "U0001")
    assert "may have started anyway: `/meet restream standup stop` stops it if so" in late.text
    assert KEY not in late.text
    await harness.double.wait_for(lambda: room.id in harness.sandbox_state.restreams)
    (await sandbox.delete("/_sandbox/faults")).raise_for_status()

    await ada.acommand("restream standup stop")
    stopped = await reply_to(harness, "U0001", 2)
    assert stopped.text == "The livestream from *standup* has stopped."
    assert room.id not in harness.sandbox_state.restreams
    await ada.acommand("restream standup stop")
    assert (await reply_to(harness, "U0001", 3)).text == "*standup* is not streaming."


async def test_a_go_live_in_flight_when_the_bot_stops_is_finished_not_cut(harness, ada, sandbox):
    """A deploy stops the bot while Digital Samba is starting a stream (1 s): the stop lets that work finish
    within its grace period, so the person hears it is live, instead of a false "not answering"."""
    room, message = await live_room(harness, ada, sandbox)
    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 1000, "paths": f"/rooms/{room.id}/restreamers"})
     ).raise_for_status()
    await go_live(harness, ada, message, stream_form("youtube"))
    await harness.double.wait_for(lambda: starts(harness))  # the start is at Digital Samba, answering in 1 s
    await harness.stop_bot()
    reply = await reply_to(harness, "U0001")
    assert "streaming live to YouTube" in reply.text, reply.text
    await harness.start_bot()
    assert restreams.get(harness.services.db, room.id).state == "live"  # written down before the stop ended
