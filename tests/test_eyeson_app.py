"""Eyeson rooms through the real app over HTTP (Slack double + Eyeson emulator): joining, recording,
snapshots, webhooks, and each failure said in words. The features are written once for every provider;
a Digital Samba room in the same bot shows they follow capabilities."""

from __future__ import annotations

import asyncio
import logging
import hashlib
import hmac
import json

import httpx
import pytest

from bot import ids
from bot.devtools.harness import Harness
from commands import recording as recording_feature
from storage import rooms
from tests.conftest import ADMIN
from tests.test_rooms import buttons, link_from, room_messages


@pytest.fixture
async def harness(tmp_path):
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins=ADMIN, meetops_provider="eyeson") as h:
        yield h


@pytest.fixture
def eyeson(harness):
    return harness.runtime.emulators["eyeson"]


@pytest.fixture
async def control(eyeson):
    async with httpx.AsyncClient(base_url=eyeson.url + "/_sandbox", timeout=10) as client:
        yield client


def world(eyeson):
    return eyeson.world


def calls(eyeson, method: str, tail: str) -> list:
    return [r for r in eyeson.world.requests if r.method == method and r.path.endswith(tail)]


async def new_room(harness, user, name="standup", extra=""):
    await user.acommand(f"new {name} {extra}".strip())
    room = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", name)) and r.message_ts and r)
    return room


def message_of(harness, room):
    return next(m for m in room_messages(harness, room.message_channel) if m.ts == room.message_ts)


async def replies_to(harness, user_id, n=1):
    return await harness.double.wait_for(
        lambda: len(harness.double.ephemerals(user_id)) >= n and harness.double.ephemerals(user_id))


def thread(harness, room):
    return [m for m in harness.double.thread(room.message_channel, room.message_ts) if m.ts != room.message_ts]


async def live_meeting(harness, user, control, name="standup"):
    """A room whose meeting runs: its creator clicked Join (one POST /rooms) and opened the link."""
    room = await new_room(harness, user, name)
    await user.aclick(message_of(harness, room), ids.JOIN)
    reply = (await replies_to(harness, user.user_id))[-1]
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(link_from(reply))).status_code == 200
    return room


# -- rooms and joining -------------------------------------------------------------------------


async def test_an_eyeson_room_shows_what_eyeson_can_do(harness, ada, eyeson):
    room = await new_room(harness, ada)
    assert room.provider == "eyeson"
    assert not [r for r in world(eyeson).requests if r.path.startswith("/rooms")]  # creating a room calls nothing
    shown = buttons(message_of(harness, room))
    assert {ids.JOIN, ids.POLL, ids.GO_LIVE, ids.RECORD, ids.END} <= set(shown) and ids.SUMMARY not in shown
    assert "simulated Eyeson" in str(message_of(harness, room).blocks)


async def test_join_gives_a_personal_link_for_the_meeting_only_to_its_owner(harness, ada, grace, eyeson):
    room = await new_room(harness, ada)
    await grace.aclick(message_of(harness, room), ids.JOIN)
    [reply] = await replies_to(harness, "U0002")
    link = link_from(reply)
    assert link.startswith(eyeson.url + "/app/?") and "as long as the meeting runs" in str(reply.blocks)
    [post] = calls(eyeson, "POST", "/rooms")
    assert post.body["id"] == room.id and post.body["user[id]"] == "T0001:U0002"
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    key = link.split("?", 1)[1]
    assert key not in repr(harness.double.messages()) and key not in str(harness.services.db.execute(
        "select * from join_grants").fetchall())


async def test_a_private_room_without_recording_becomes_eyeson_options_at_the_first_join(harness, ada, eyeson):
    room = await new_room(harness, ada, "board", "--private --no-recording")
    assert room.private and room.extra["options"] == ["no-recording"]
    await ada.aclick(message_of(harness, room), ids.JOIN)
    await replies_to(harness, "U0001")
    [post] = calls(eyeson, "POST", "/rooms")
    assert post.body["options[guest_token_available]"] == "false"
    assert post.body["options[recording_available]"] == "false"
    assert post.body["name"] == "board"
    assert world(eyeson).meetings[room.id].guest_token is None  # no guest link into a private meeting


async def test_join_while_eyeson_is_down_says_so_and_gives_no_link(harness, ada, eyeson, control):
    room = await new_room(harness, ada)
    (await control.put("/faults", json={"status": 503})).raise_for_status()
    await ada.aclick(message_of(harness, room), ids.JOIN)
    [reply] = await replies_to(harness, "U0001")
    assert "Eyeson" in reply.text and "try again" in reply.text.lower()
    assert not any(b.get("accessory", {}).get("url") for b in reply.blocks or [])
    assert len(calls(eyeson, "POST", "/rooms")) == 1  # never repeated blindly
    assert world(eyeson).meetings == {}


async def test_join_while_eyeson_is_slow_says_so(tmp_path):
    async with Harness(db_path=str(tmp_path / "m.db"), meetops_provider="eyeson",
                       providers={"eyeson": {"timeout_seconds": 0.5}}) as h:
        ada = h.user("U0001")
        emulator = h.runtime.emulators["eyeson"]
        room = await new_room(h, ada)
        async with httpx.AsyncClient(base_url=emulator.url + "/_sandbox") as control:
            (await control.put("/faults", json={"latency_ms": 1500})).raise_for_status()
        await ada.aclick(message_of(h, room), ids.JOIN)
        [reply] = await replies_to(h, "U0001")
        assert "Eyeson is not answering" in reply.text
        await ada.aclose()


async def test_polls_run_in_slack_and_summaries_say_why_not(harness, ada):
    await new_room(harness, ada)
    await ada.acommand("summary standup")
    [reply] = await replies_to(harness, "U0001")
    assert "Eyeson has no AI summaries" in reply.text


# -- recording ---------------------------------------------------------------------------------


async def test_record_then_stop_then_get_a_fresh_link_privately(harness, ada, grace, eyeson, control, monkeypatch):
    monkeypatch.setattr(recording_feature, "DOUBLE_CLICK_SECONDS", 0.2)
    room = await live_meeting(harness, ada, control)
    await ada.aclick(message_of(harness, room), ids.RECORD)
    recording = await harness.double.wait_for(
        lambda: ids.STOP_RECORDING in buttons(message_of(harness, room)) and message_of(harness, room))
    assert "Recording" in str(recording.blocks) and len(calls(eyeson, "POST", "/recording")) == 1
    await ada.aclick(message_of(harness, room), ids.STOP_RECORDING)
    await harness.double.wait_for(lambda: ids.RECORD in buttons(message_of(harness, room)))
    assert len(calls(eyeson, "DELETE", "/recording")) == 1
    # Eyeson's recording_update (finished) arrives signed at /webhooks/eyeson: a button, no link, in the thread.
    [post] = await harness.double.wait_for(lambda: thread(harness, room))
    assert ids.GET_RECORDING in str(post.blocks) and "/downloads/" not in json.dumps(post.blocks) + post.text
    await grace.aclick(post, ids.GET_RECORDING)
    reply = (await replies_to(harness, "U0002"))[-1]
    assert "/downloads/recordings/" in reply.text and "download it" in reply.text
    [recording_id] = list(world(eyeson).recordings)
    assert len(calls(eyeson, "GET", f"/recordings/{recording_id}")) == 1
    await asyncio.sleep(0.3)
    await grace.aclick(post, ids.GET_RECORDING)  # a later click asks again: links expire
    await harness.double.wait_for(lambda: len(calls(eyeson, "GET", f"/recordings/{recording_id}")) == 2)
    await harness.double.wait_idle(quiet=0.2)
    assert len(thread(harness, room)) == 1  # the webhook's three recording_updates made one post


async def test_a_double_click_on_record_makes_one_api_call(harness, ada, eyeson, control):
    room = await live_meeting(harness, ada, control)
    message = message_of(harness, room)
    await asyncio.gather(ada.aclick(message, ids.RECORD), ada.aclick(message, ids.RECORD))
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(message_of(harness, room)))
    await harness.double.wait_idle(quiet=0.2)
    assert len(calls(eyeson, "POST", "/recording")) == 1
    assert len([e for e in harness.double.ephemerals("U0001") if "is being recorded" in e.text]) == 1
    assert not [e for e in harness.double.ephemerals("U0001") if "already" in e.text]  # one message


async def test_only_moderators_record(harness, ada, grace, eyeson, control):
    room = await live_meeting(harness, ada, control)
    await grace.aclick(message_of(harness, room), ids.RECORD)
    [reply] = await replies_to(harness, "U0002")
    assert "moderators" in reply.text and calls(eyeson, "POST", "/recording") == []


async def test_record_after_the_meeting_ended_says_it_is_over(harness, ada, eyeson, control):
    room = await live_meeting(harness, ada, control)
    await ada.acommand("snapshot standup")  # the bot holds an access key of this meeting now
    await harness.double.wait_for(lambda: thread(harness, room))
    (await control.post(f"/rooms/{room.id}/end")).raise_for_status()
    await ada.acommand("record standup")
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if ":warning:" in e.text), None))
    assert "meeting" in reply.text and ("over" in reply.text or "no meeting running" in reply.text)
    assert 410 in [r.status for r in world(eyeson).requests]
    assert ids.RECORD in buttons(message_of(harness, room)) or "Ended" in str(message_of(harness, room).blocks)
    assert world(eyeson).meetings == {}


async def test_record_where_eyeson_disabled_it_says_so(harness, ada, eyeson, control):
    room = await live_meeting(harness, ada, control)
    (await control.put("/features", json={"disabled": ["recording"]})).raise_for_status()
    await ada.aclick(message_of(harness, room), ids.RECORD)
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "disabled" in e.text), None))
    assert "Recording is disabled for this Eyeson account" in reply.text
    assert ids.RECORD in buttons(message_of(harness, room))  # the claim was rolled back


async def test_the_same_features_follow_a_digital_samba_rooms_capabilities(tmp_path):
    async with Harness(db_path=str(tmp_path / "m.db"), emulate={"eyeson"}) as h:
        ada = h.user("U0001")
        room = await new_room(h, ada)
        assert room.provider == "digitalsamba" and ids.RECORD in buttons(message_of(h, room))
        await ada.acommand("snapshot standup")
        [reply] = await replies_to(h, "U0001")
        assert "isn't available on Digital Samba rooms: Digital Samba has no snapshot API" in reply.text
        await ada.aclose()


# -- snapshots ----------------------------------------------------------------------------------


async def test_a_snapshot_is_posted_in_the_rooms_thread(harness, ada, eyeson, control):
    room = await live_meeting(harness, ada, control)
    await ada.acommand("snapshot standup")
    [post] = await harness.double.wait_for(lambda: thread(harness, room))
    assert "took a snapshot" in post.text and "/downloads/snapshots/" in post.text
    await harness.double.wait_for(lambda: any("in the room's thread" in e.text for e in harness.double.ephemerals("U0001")))
    assert len(calls(eyeson, "POST", "/snapshot")) == 1


async def test_a_snapshot_with_nobody_in_the_room_says_so(harness, ada, eyeson):
    await new_room(harness, ada)
    await ada.acommand("snapshot standup")
    reply = (await replies_to(harness, "U0001"))[-1]
    assert "no meeting running" in reply.text and world(eyeson).meetings == {}


async def test_only_moderators_take_snapshots(harness, ada, grace, eyeson, control):
    await live_meeting(harness, ada, control)
    await grace.acommand("snapshot standup")
    assert "moderators" in (await replies_to(harness, "U0002"))[-1].text
    assert calls(eyeson, "POST", "/snapshot") == []


# -- webhooks ----------------------------------------------------------------------------------


async def post_webhook(harness, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Eyeson-Signature"] = signature
    async with httpx.AsyncClient(timeout=10) as web:
        return await web.post(harness.url + "/webhooks/eyeson", content=body, headers=headers)


async def test_webhooks_are_verified_before_anything_happens(harness, ada, eyeson):
    room = await new_room(harness, ada)
    body = json.dumps({"timestamp": 1, "type": "room_update", "room": {
        "id": room.id, "name": "standup", "started_at": "2026-12-01T10:00:00Z", "shutdown": True}}).encode()
    good = hmac.new(world(eyeson).api_key.encode(), body, hashlib.sha256).hexdigest()
    for signature in (None, "", "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1")):
        assert (await post_webhook(harness, body, signature)).status_code == 401
    tampered = body.replace(b"standup", b"standuq")
    assert (await post_webhook(harness, tampered, good)).status_code == 401
    assert rooms.get(harness.services.db, room.id).status == "open"
    for _ in range(2):  # the genuine one, then a replay of it
        assert (await post_webhook(harness, body, good)).status_code == 200
    ended = await harness.double.wait_for(lambda: "Ended" in str(message_of(harness, room).blocks))
    assert ended
    assert harness.services.db.execute(
        "select count(*) from provider_events where provider = 'eyeson'").fetchone()[0] == 1


async def test_a_meeting_that_ends_in_eyeson_ends_on_the_room_message(harness, ada, control):
    room = await live_meeting(harness, ada, control)
    await harness.double.wait_for(lambda: "Live" in str(message_of(harness, room).blocks))
    (await control.post(f"/rooms/{room.id}/leave", json={"name": "Ada"})).raise_for_status()  # the last one left
    await harness.double.wait_for(lambda: "Ended" in str(message_of(harness, room).blocks))


# -- restream ------------------------------------------------------------------------------------


async def test_go_live_streams_to_one_rtmp_url_and_the_key_leaves_no_trace(harness, ada, eyeson, control, caplog):
    from tests.test_polls import open_form
    from tests.test_restream import stream_form

    for name in (None, "httpx", "httpcore", "aiohttp", "bot", "commands"):  # every logger, even ones set quieter
        caplog.set_level(logging.DEBUG, logger=name)
    key = "sk-eyeson-" + "7f3a9c21e4"
    room = await live_meeting(harness, ada, control)
    form = await open_form(harness, ada, message_of(harness, room), ids.GO_LIVE)
    await ada.asubmit(form, stream_form("youtube", key))
    await harness.double.wait_for(lambda: "Streaming live to YouTube" in str(message_of(harness, room).blocks))
    assert world(eyeson).meetings[room.id].broadcast_url == f"rtmp://a.rtmp.youtube.com/live2/{key}"
    [start] = calls(eyeson, "POST", "/broadcasts")
    assert start.body == {"stream_url": "***"}  # (the emulator's request log masks it)
    await ada.aclick(message_of(harness, room), ids.STOP_STREAM)
    await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(message_of(harness, room)))
    assert len(calls(eyeson, "DELETE", "/broadcasts")) == 1 and world(eyeson).meetings[room.id].broadcast_url is None
    bot_key = next(k for k, (_, user) in world(eyeson).access_keys.items() if user == "meetops-bot")
    slack = repr(harness.double.calls) + repr(harness.double.responses) + repr(harness.double.ephemerals())
    stored = "\n".join(harness.services.db.conn.iterdump())
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in (key, bot_key, world(eyeson).api_key):
        assert secret not in slack and secret not in stored and secret not in logged


async def test_double_clicks_on_stop_recording_and_get_recording_make_one_call_each(harness, ada, eyeson, control):
    room = await live_meeting(harness, ada, control)
    await ada.aclick(message_of(harness, room), ids.RECORD)
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(message_of(harness, room)))
    message = message_of(harness, room)
    await asyncio.gather(ada.aclick(message, ids.STOP_RECORDING), ada.aclick(message, ids.STOP_RECORDING))
    [post] = await harness.double.wait_for(lambda: thread(harness, room))
    # The stop's own reply ("... with a way to download it") may come after the recording's post: counted before.
    await harness.double.wait_for(lambda: any("has stopped" in e.text for e in harness.double.ephemerals("U0001")))
    await harness.double.wait_idle(quiet=0.3)
    assert len(calls(eyeson, "DELETE", "/recording")) == 1
    before = len(harness.double.ephemerals("U0001"))
    await asyncio.gather(ada.aclick(post, ids.GET_RECORDING), ada.aclick(post, ids.GET_RECORDING))
    await harness.double.wait_for(lambda: any("download it" in e.text for e in harness.double.ephemerals("U0001")))
    await harness.double.wait_idle(quiet=0.3)
    [recording_id] = list(world(eyeson).recordings)
    assert len(calls(eyeson, "GET", f"/recordings/{recording_id}")) == 1
    assert len([e for e in harness.double.ephemerals("U0001")[before:] if "download it" in e.text]) == 1


async def test_live_says_nobody_is_in_a_meeting_started_by_a_join_not_yet_opened(harness, ada, eyeson, control):
    """A Join starts the Eyeson meeting before anyone opens the link: `/meet live` lists it without a "0 people"
    that reads like a contradiction, as the room message shows just "Live"."""
    room = await new_room(harness, ada)
    await ada.aclick(message_of(harness, room), ids.JOIN)
    await replies_to(harness, "U0001")
    await ada.acommand("live")
    reply = (await replies_to(harness, "U0001", 2))[-1]
    shown = str(reply.blocks)
    assert "*standup*: nobody in it right now" in shown and "0 people" not in shown


async def test_rooms_lists_meetops_rooms_although_eyeson_lists_running_meetings_only(harness, ada, eyeson):
    """Eyeson keeps no idle rooms, so /meet rooms said "There are no rooms yet" right after two were made. The
    rooms meetops made are listed, a private one with its lock and only where it may be seen."""
    await new_room(harness, ada)
    await new_room(harness, ada, "Design Review", extra=" --private")
    await ada.acommand("rooms")
    listed = str((await replies_to(harness, "U0001"))[-1].blocks)
    assert "*2 rooms*" in listed and "*standup*  `standup`" in listed
    assert "*Design Review* :lock:  `design-review`" in listed

    grace = ada.as_user("U0002", channel_id="C0002", channel_name="random")
    await grace.acommand("rooms")
    seen = str((await replies_to(harness, "U0002"))[-1].blocks)
    assert "*1 room*" in seen and "`standup` in <#C0001>" in seen and "Design Review" not in seen


async def test_rooms_still_answers_with_a_room_of_a_platform_no_longer_set_up(harness, ada, eyeson):
    """A room made on a platform this meetops is no longer configured for must not break the list."""
    rooms.insert(harness.services.db, rooms.RoomRecord(id="old-1", team_id="T0001", channel_id="C0001",
                                                       creator_id="U0001", name="Old", friendly_url="old",
                                                       room_url="", provider="chalk"))
    await new_room(harness, ada)
    await ada.acommand("rooms")
    listed = str((await replies_to(harness, "U0001"))[-1].blocks)
    assert "*1 room*" in listed and "*standup*  `standup`" in listed and "Old" not in listed


async def test_recordings_lists_the_finished_ones_while_another_is_being_made(harness, ada, eyeson, control,
                                                                               monkeypatch):
    """A recording still running (or processing) has no download link yet: it used to fail the whole list."""
    monkeypatch.setattr(recording_feature, "DOUBLE_CLICK_SECONDS", 0.2)
    room = await live_meeting(harness, ada, control)
    await ada.aclick(message_of(harness, room), ids.RECORD)
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(message_of(harness, room)))
    await ada.aclick(message_of(harness, room), ids.STOP_RECORDING)
    await harness.double.wait_for(lambda: thread(harness, room))
    await asyncio.sleep(0.3)
    await ada.aclick(message_of(harness, room), ids.RECORD)  # the second one, still running
    await harness.double.wait_for(lambda: ids.STOP_RECORDING in buttons(message_of(harness, room)))
    before = len(harness.double.ephemerals("U0001"))
    await ada.acommand("recordings standup")
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001")[before:] if "recordings of standup" in e.text + str(e.blocks)),
        None))
    shown = reply.text + str(reply.blocks)
    assert "*2 recordings of standup*" in shown
    assert shown.count("/downloads/recordings/") == 1 and "not ready yet" in shown


async def test_a_room_made_without_recording_or_streaming_shows_neither_and_says_why(harness, ada, eyeson, control):
    """Record and Go live stayed on such a room: Record failed blaming 'an Eyeson admin', Go live asked for a
    stream key first and then failed the same way."""
    room = await live_meeting_of(harness, ada, control, "--no-recording --no-streaming")
    shown = buttons(message_of(harness, room))
    assert ids.RECORD not in shown and ids.GO_LIVE not in shown and ids.JOIN in shown
    await ada.acommand("record standup")
    await ada.acommand("restream standup")
    said = [e.text for e in await replies_to(harness, "U0001", 3)][-2:]
    assert said == [
        ":warning: That isn't available in this room: it was made with --no-recording, so nobody can record this "
        "room's meetings.",
        ":warning: That isn't available in this room: it was made with --no-streaming, so nobody can stream this "
        "room's meetings live."]
    assert not calls(eyeson, "POST", "/recording") and not harness.double.views  # no stream key asked for


async def live_meeting_of(harness, user, control, extra):
    room = await new_room(harness, user, extra=extra)
    await user.aclick(message_of(harness, room), ids.JOIN)
    await replies_to(harness, "U0001")
    return await harness.double.wait_for(lambda: rooms.get(harness.services.db, room.id))
