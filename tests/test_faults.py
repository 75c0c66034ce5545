"""Bad input and faults: each gets a clear reply, nothing crashes, nothing is half-written."""

from __future__ import annotations

import json
import time

import httpx

from bot import ids
from bot.devtools.harness import Harness
from bot.devtools.serving import free_port
from storage import rooms

from tests.test_rooms import room_messages


def replies(harness, user="U0001"):
    return harness.double.ephemerals(user)


async def reply_to(harness, user="U0001", n=1):
    return (await harness.double.wait_for(lambda: len(replies(harness, user)) >= n and replies(harness, user)))[n - 1]


def room_count(harness) -> int:
    return harness.services.db["rooms"].count


async def test_overlong_and_symbol_only_names_are_refused(harness, ada):
    await ada.acommand("new " + "very long room name " * 3)
    await ada.acommand("new !!! ???")
    first = await reply_to(harness)
    second = await reply_to(harness, n=2)
    assert "at most 32 characters" in first.text
    assert "at least one letter or digit" in second.text
    assert room_count(harness) == 0 and not harness.sandbox_state.rooms


async def test_unknown_room_gets_a_pointer_to_the_list(harness, ada):
    started = time.monotonic()
    response = await ada.acommand("join nowhere")
    # A handler failing right after its ack must not hold Slack's answer (Bolt would wait 3 s).
    assert response.status_code == 200 and time.monotonic() - started < 1.0
    reply = await reply_to(harness)
    assert "can't find a room called `nowhere`" in reply.text and "/meet rooms" in reply.text


async def test_unbalanced_quotes_are_explained(harness, ada):
    await ada.acommand('new "design review')
    reply = await reply_to(harness)
    assert "quote" in reply.text and room_count(harness) == 0


async def test_click_on_a_room_deleted_in_digital_samba(harness, ada, grace, sandbox):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    room = await harness.double.wait_for(lambda: (r := rooms.find(harness.services.db, "T0001", "standup")) and r)
    deleted = await sandbox.delete(f"/api/v1/rooms/{room.id}",
                                   headers={"Authorization": f"Bearer {harness.sandbox_state.developer_key}"})
    assert deleted.status_code == 204
    await grace.aclick(message, ids.JOIN)
    reply = await reply_to(harness, "U0002")
    assert "*standup* no longer exists in Digital Samba" in reply.text and "/meet new" in reply.text
    assert "token=" not in str(reply.blocks)
    updated = await harness.double.wait_for(
        lambda: next((m for m in room_messages(harness) if "no longer exists" in str(m.blocks)), None))
    assert not any(b["type"] == "actions" for b in updated.blocks), "no buttons left to click"


async def test_forged_or_stale_signatures_are_rejected_and_nothing_happens(harness, ada):
    form = ada.command_form("new forged-room")
    body = str(httpx.QueryParams(form)).encode()
    async with httpx.AsyncClient() as client:
        forged = ada.sign(body)
        forged["X-Slack-Signature"] = "v0=" + "0" * 64
        stale = ada.sign(body, timestamp=int(time.time()) - 600)
        for headers in (forged, stale, {}):
            response = await client.post(harness.events_url, content=body,
                                         headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
            assert response.status_code == 401
    assert room_count(harness) == 0 and not harness.sandbox_state.rooms
    assert not harness.double.calls_to("chat.postMessage")


async def test_provider_500_on_create_is_reported_and_nothing_is_stored(harness, ada, sandbox):
    await sandbox.put("/_sandbox/faults", json={"status": 500, "count": 5, "paths": "/rooms"})
    await ada.acommand("new standup")
    reply = await reply_to(harness)
    assert "internal error" in reply.text and "try again" in reply.text
    assert room_count(harness) == 0
    assert len(harness.sandbox_state.requests_matching("POST", "/api/v1/rooms")) == 1, "a POST is not repeated"


async def test_provider_rate_limit_is_waited_out(harness, ada, sandbox):
    await sandbox.put("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 1, "paths": "/rooms"})
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None), timeout=8)
    assert message.blocks[0]["text"]["text"] == "standup"
    assert len(harness.sandbox_state.requests_matching("POST", "/api/v1/rooms")) == 2
    assert len(harness.sandbox_state.rooms) == 1


async def test_slow_provider_beyond_the_timeout_still_acks_at_once(tmp_path):
    async with Harness(db_path=str(tmp_path / "db"), ds_timeout_seconds=0.5) as harness:
        harness.sandbox_state.faults.latency_ms = 1500
        ada = harness.user()
        started = time.monotonic()
        response = await ada.acommand("new standup")
        acked = time.monotonic() - started
        assert response.status_code == 200 and acked < 1.0, f"ack took {acked:.2f}s"
        reply = await reply_to(harness)
        assert "not answering" in reply.text
        assert room_count(harness) == 0
        await ada.aclose()


async def test_provider_down_gets_a_clear_reply(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    async with Harness(db_path=str(tmp_path / "db"), sandbox_url=closed) as harness:
        ada = harness.user()
        response = await ada.acommand("new standup")
        assert response.status_code == 200
        reply = await reply_to(harness)
        assert "can't reach Digital Samba" in reply.text
        assert room_count(harness) == 0
        await ada.aclose()


async def test_wrong_developer_key_is_named_but_not_shown(tmp_path):
    async with Harness(db_path=str(tmp_path / "db")) as harness:
        real_key = harness.sandbox_state.developer_key
        harness.sandbox_state.developer_key = "rotated-" + real_key
        ada = harness.user()
        await ada.acommand("rooms")
        reply = await reply_to(harness)
        assert "DS_DEVELOPER_KEY" in reply.text
        everything = json.dumps([c.args for c in harness.double.calls])
        assert real_key not in everything
        await ada.aclose()


async def test_unexpected_errors_get_a_reference_not_a_crash(harness, ada, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(harness.services.providers.default, "iter_rooms", broken)
    await ada.acommand("rooms")
    reply = await reply_to(harness)
    assert "Something went wrong on my side" in reply.text and "reference" in reply.text
    ref = reply.text.split("`")[1]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records), "logged with its traceback"
    # and the app keeps serving
    await ada.acommand("help")
    assert "/meet new" in (await reply_to(harness, n=2)).text


async def test_room_names_cannot_steer_the_provider_request(harness, ada):
    for ref in ("standup/sessions", "standup?live=true", "../webhooks", "<!channel>"):
        await ada.acommand(f'join "{ref}"')
    answers = await harness.double.wait_for(lambda: len(replies(harness)) == 4 and replies(harness))
    assert all("can't find a room" in r.text for r in answers)
    assert "&lt;!channel&gt;" in answers[3].text, "user text is escaped, never a mention"
    assert not harness.sandbox_state.requests_matching("GET", "/sessions")


async def test_one_line_poll_with_only_flags_asks_for_the_question(harness, ada):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand('poll standup "--multiple"')
    await ada.acommand("poll standup Where shall we eat?")
    assert "What is the question?" in (await reply_to(harness)).text
    assert "put the question and each option in quotes" in (await reply_to(harness, n=2)).text
    assert not harness.sandbox_state.requests_matching("POST", "/polls")


async def test_two_plain_meets_at_once_make_one_standing_room(harness, ada, grace, sandbox):
    import asyncio

    await sandbox.put("/_sandbox/faults", json={"latency_ms": 300})
    await asyncio.gather(ada.acommand(""), grace.acommand(""))
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2, timeout=8)
    assert len(harness.sandbox_state.rooms) == 1
