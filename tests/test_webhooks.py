"""POST /webhooks/digitalsamba: authentication, dedupe, and what each event does to the room's message."""

from __future__ import annotations

import json

import httpx

from bot import ids
from bot.devtools.harness import WEBHOOK_TOKEN, Harness
from commands.summaries import job_id
from bot.providers.digitalsamba.webhooks import EVENTS as WEBHOOK_EVENTS, DigitalSambaWebhooks
from storage import rooms
from tests.scheduling import clock, harness, meeting, new_room, thread_replies  # noqa: F401


async def deliver(harness, body, token: str | None = WEBHOOK_TOKEN, **kwargs) -> httpx.Response:
    headers = {"Authorization": token} if token is not None else {}
    async with httpx.AsyncClient(timeout=10) as web:
        return await web.post(harness.url + "/webhooks/digitalsamba", headers=headers, json=body, **kwargs)


def event(name: str, room, session_id: str, **data) -> dict:
    return {"event": name, "timestamp": "2026-01-01T10:00:00Z",
            "data": {"room_id": room.id, "session_id": session_id, **data}}


def deliveries_seen(harness) -> int:
    return harness.services.db["provider_events"].count


async def test_wrong_or_missing_token_gets_401_and_changes_nothing(harness, ada):
    room = await new_room(harness, ada)
    body = event("session_ended", room, "s-1", participants_total=3)
    for token in (None, "", "wrong", WEBHOOK_TOKEN + "x", "Bearer " + WEBHOOK_TOKEN):
        assert (await deliver(harness, body, token=token)).status_code == 401
    assert rooms.get(harness.services.db, room.id).status == "open"
    assert deliveries_seen(harness) == 0 and harness.services.scheduler.get_job(job_id("s-1")) is None


async def test_no_configured_token_refuses_everything(tmp_path):
    async with Harness(db_path=str(tmp_path / "m.db"), ds_webhook_token=None) as h:
        assert (await deliver(h, {"event": "session_ended", "data": {"session_id": "s"}})).status_code == 401
        assert (await deliver(h, {}, token="")).status_code == 401


async def test_bad_json_unknown_events_and_rooms_made_elsewhere(harness):
    assert (await deliver(harness, None, content=b"{not json")).status_code == 400
    assert (await deliver(harness, ["a list"])).status_code == 400
    unknown = await deliver(harness, {"event": "room_locked", "data": {"room_id": "r", "session_id": "s"}})
    assert unknown.status_code == 200 and unknown.json()["ignored"]
    elsewhere = await deliver(harness, {"event": "session_ended", "data": {"room_id": "r9", "session_id": "s9"}})
    assert elsewhere.status_code == 200


async def test_a_time_no_clock_can_show_is_not_a_crash(harness, ada):
    """A Unix time out of any calendar's range (or not a time at all) is taken as no time, never a 500 that the
    platform would deliver again and again; milliseconds are read as milliseconds."""
    room = await new_room(harness, ada)
    for n, stamp in enumerate((1e300, -1e20, True, 1_767_261_600_000)):
        body = {**event("session_started", room, f"s-{n}"), "timestamp": stamp}
        assert (await deliver(harness, body)).status_code == 200
    started = {row["session_id"]: row["started_at"] for row in harness.services.db["sessions"].rows}
    assert started["s-3"] == "2026-01-01T10:00:00+00:00" and len(started) == 4


async def test_session_lifecycle_updates_the_room_message_and_arms_the_summary(harness, ada, sandbox):
    room = await new_room(harness, ada)
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/join", json={"name": "Grace", "count": 2})).raise_for_status()
    live = await harness.double.wait_for(
        lambda: (m := current(harness, room)) and "2 people in the room" in str(m.blocks) and m)
    assert "Live" in str(live.blocks)
    session = await meeting(harness, sandbox, room, "Linus")
    message = await harness.double.wait_for(lambda: (m := current(harness, room)) and "Ended" in str(m.blocks) and m)
    assert "Ended within a minute, 3 people took part" in str(message.blocks)
    assert "room_summary" in str(message.blocks)
    assert harness.services.scheduler.get_job(job_id(session)) is not None


async def test_a_duplicate_delivery_is_processed_once(harness, ada, sandbox):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    harness.sandbox_state.complete_summary(harness.sandbox_state.sessions[session], "Twice told.")
    # (the sandbox delivered it once already; deliver it twice more by hand)
    body = event("session_summary_ready", room, session, job_id="j")
    assert [(await deliver(harness, body)).status_code for _ in range(2)] == [200, 200]
    await harness.double.wait_for(lambda: thread_replies(harness, room))
    await harness.double.wait_idle(quiet=0.2)
    assert len(thread_replies(harness, room)) == 1
    assert len(harness.sandbox_state.requests_matching("GET", f"/sessions/{session}/summary")) == 1


async def test_recording_ready_posts_a_get_recording_button_once(harness, ada, sandbox):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    (await sandbox.post(f"/_sandbox/sessions/{session}/recording", json={})).raise_for_status()
    [post] = await harness.double.wait_for(lambda: thread_replies(harness, room))
    recording = next(iter(harness.sandbox_state.recordings))
    # The delivery has no link: the button fetches a fresh one (download links expire), for the clicker only.
    assert "is ready" in post.text and f"/files/{recording}" not in str(post.blocks)
    await ada.aclick(post, ids.GET_RECORDING)
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if f"/files/{recording}.mp4" in e.text), None))
    assert "download it" in reply.text
    await deliver(harness, event("recording_ready", room, session, recording_id=recording))
    await harness.double.wait_idle(quiet=0.2)
    assert len(thread_replies(harness, room)) == 1
    row = harness.services.db["recordings"].get(recording)
    assert row["session_id"] == session and row["permalink"]


async def test_lenient_payloads(harness, ada):
    room = await new_room(harness, ada)
    response = await deliver(harness, {"type": "session_started", "room_id": room.id, "session_id": "s-2"})
    assert response.status_code == 200
    assert rooms.get(harness.services.db, room.id).status == "live"
    [event] = DigitalSambaWebhooks("t").parse(
        json.dumps({"event": "session.ended", "data": {"session": {"id": "s"}, "room": {"id": "r"}}}).encode())
    assert event.session_id == "s" and event.room_id == "r"


async def test_an_update_slack_could_not_take_is_tried_again_later(harness, ada, sandbox, clock):
    """Slack fails chat.update (a 500) when someone joins: once it takes updates again, the message catches up."""
    from bot.devtools.timing import job_time, run_job

    room = await new_room(harness, ada)
    harness.double.fail("chat.update", "internal_error", status=500)
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
    await harness.double.wait_for(lambda: harness.services.scheduler.get_job(f"room-refresh:{room.id}"))
    assert "nobody has joined yet" in str(current(harness, room).blocks)
    assert job_time(harness.services, f"room-refresh:{room.id}") > clock()
    harness.double.fail("chat.update", "internal_error", count=0)
    await run_job(harness.services, clock, f"room-refresh:{room.id}")
    assert "1 person in the room" in str(current(harness, room).blocks)


def current(harness, room):
    return next((m for m in harness.double.messages(room.message_channel) if m.ts == room.message_ts), None)


async def test_sandbox_mode_registers_its_own_webhook(tmp_path):
    from bot.config import Settings
    from bot.runtime import Runtime

    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret="s",
                        meetops_db=str(tmp_path / "m.db"), host="0.0.0.0", port=3999)
    runtime = Runtime(settings, provider_overrides={"digitalsamba": {"_env_file": None}})
    await runtime.start()
    try:
        [hook] = runtime.sandbox_server.state.webhooks.values()
        assert hook.endpoint == "http://127.0.0.1:3999/webhooks/digitalsamba"
        token = runtime.services.providers.get("digitalsamba").webhook_token
        assert hook.authorization_header == token and len(hook.authorization_header) > 30
        assert sorted(hook.events) == sorted(WEBHOOK_EVENTS)
    finally:
        await runtime.stop()


async def test_a_recording_digital_samba_cannot_find_is_said_in_the_thread(harness, ada):
    """Issue 7: a recording_ready for an unknown recording used to fail in the background, posting nothing."""
    room = await new_room(harness, ada)
    assert (await deliver(harness, event("recording_ready", room, "s-9", recording_id="no-such-recording"))).status_code == 200
    await harness.double.wait_for(lambda: thread_replies(harness, room))
    [reply] = thread_replies(harness, room)
    assert ids.GET_RECORDING in str(reply.blocks)  # the link is fetched fresh when clicked
    await ada.aclick(reply, ids.GET_RECORDING)
    answer = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "recording" in e.text.lower()), None))
    assert "Traceback" not in answer.text and "{" not in answer.text
    assert "find" in answer.text or "no longer" in answer.text or "deleted" in answer.text, answer.text
    assert deliveries_seen(harness) == 1


async def test_a_summary_for_a_session_meetops_never_saw_posts_nothing(harness, ada):
    """Issue 7: session_summary_ready for an unknown session used to post "transcription was off"."""
    room = await new_room(harness, ada)
    response = await deliver(harness, event("session_summary_ready", room, "never-seen"))
    assert response.status_code == 200
    await harness.double.wait_idle(quiet=0.3)
    assert thread_replies(harness, room) == []
    assert not harness.sandbox_state.requests_matching("GET", "/sessions/never-seen/summary")
