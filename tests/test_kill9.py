"""Nothing lost, nothing doubled across `kill -9`: the real `meetops serve` in a subprocess, killed with work
in flight and started again on the same database (issue 7, items 8, 9 and 11).

Bounded: each test starts the bot a handful of times (a start takes ~1-2 s) and waits at most seconds.
"""

from __future__ import annotations

import secrets
import socket
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bot import ids
from bot.devtools.slack_double import SlackDouble
from bot.sandbox import SandboxState, start_sandbox
from storage.db import open_db
from storage.digests import DigestRecord, save
from tests.processes import BotProcess

WAIT = 20.0


@pytest.fixture
def world(tmp_path):
    state = SandboxState(team_id=str(uuid.uuid4()), developer_key="test-dev-key-" + secrets.token_hex(16))
    double = SlackDouble().start()
    sandbox = start_sandbox(state)
    # Summaries come by webhook; the poll is far off, so only recovery can post one after a restart.
    bot = BotProcess(tmp_path, double, sandbox.url, state, MEETOPS_SUMMARY_POLL_SECONDS="600")
    try:
        yield bot
    finally:
        bot.stop()
        double.release_holds()
        sandbox.stop()
        double.stop()


def query(bot: BotProcess, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(bot.db_path, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def is_summary(args: dict) -> bool:
    return str(args.get("text", "")).startswith("Meeting summary")


def summary_posts(double: SlackDouble, channel: str, thread_ts: str) -> list:
    return [m for m in double.thread(channel, thread_ts) if m.ts != thread_ts and "Meeting summary" in str(m.blocks)]


def room_message(double: SlackDouble, name: str):
    return next((m for m in double.messages("C0001") if not m.thread_ts and m.blocks
                 and m.blocks[0].get("text", {}).get("text") == name), None)


def join_value(message) -> str:
    return next(e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == ids.JOIN)


async def test_kill9_with_a_summary_post_in_flight_posts_it_exactly_once(world):
    """Three kills while a summary's chat.postMessage is in flight: twice after Slack took the post (its answer
    lost with the process), once before it reached Slack. After each restart the summary is in its thread
    exactly once and the database says posted."""
    bot, double = world, world.double
    bot.start()
    bot.register_webhook()
    stages = ["after", "before", "after"]
    async with httpx.AsyncClient(base_url=bot.sandbox_url, timeout=10) as sandbox:
        for n, stage in enumerate(stages):
            name = f"standup{n}"
            async with bot.user() as ada:
                await ada.acommand(f"new {name}")
            message = await double.wait_for(lambda: room_message(double, name), WAIT)
            room_id = join_value(message)
            (await sandbox.post(f"/_sandbox/rooms/{room_id}/join", json={"name": "Grace"})).raise_for_status()
            session = (await sandbox.post(f"/_sandbox/rooms/{room_id}/end", json={})).json()["id"]
            await double.wait_for(lambda: query(bot, "select state from summaries where session_id = ?",
                                                [session]) == [("pending",)], WAIT)

            double.hold("chat.postMessage", 60, stage=stage, when=is_summary)
            (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={})).raise_for_status()
            if stage == "after":  # Slack has it; the bot is waiting for the answer
                await double.wait_for(lambda: summary_posts(double, "C0001", message.ts), WAIT)
            else:  # the request is on its way; Slack has not acted on it
                await double.wait_for(lambda: any(is_summary(c.args) for c in double.calls_to("chat.postMessage")
                                                  if c.args.get("thread_ts") == message.ts), WAIT)
            bot.kill9()
            assert query(bot, "select state from summaries where session_id = ?", [session]) == [("posting",)]
            double.release_holds()
            assert len(summary_posts(double, "C0001", message.ts)) == (1 if stage == "after" else 0)

            bot.start()
            await double.wait_for(lambda: query(bot, "select state from summaries where session_id = ?",
                                                [session]) == [("posted",)], WAIT)
            await double.wait_idle(quiet=0.5)
            posts = summary_posts(double, "C0001", message.ts)
            assert len(posts) == 1, f"kill {n + 1} ({stage}): {len(posts)} summary posts"
            [(message_ts, link)] = query(bot, "select message_ts, permalink from summaries where session_id = ?",
                                         [session])
            assert message_ts == posts[0].ts and link
            replies = [c for c in double.calls_to("conversations.replies") if c.args.get("ts") == message.ts]
            assert replies, "the restarted bot looked in the thread before deciding"
    assert "Traceback" not in bot.log


async def test_kill9_right_after_the_provider_made_the_room_finishes_it_at_restart(world):
    """`/meet new` is acknowledged, Digital Samba creates the room, and the bot dies before it writes it down:
    the restarted bot finds the room at Digital Samba, keeps it and posts its room message, saying it is late.
    An ask whose room Digital Samba never made is reported to the person who asked."""
    bot, double = world, world.double
    posts = lambda: len(bot.state.requests_matching("POST", "/api/v1/rooms"))  # noqa: E731
    async with httpx.AsyncClient(base_url=bot.sandbox_url, timeout=10) as sandbox:
        # 1. Dies in flight while Digital Samba is failing the create (after 2 s): nothing is made.
        bot.start()
        (await sandbox.put("/_sandbox/faults", json={"latency_ms": 2000, "paths": "/rooms", "status": 500,
                                                     "count": 1})).raise_for_status()
        async with bot.user("U0002") as grace:
            assert (await grace.acommand("new doomed")).status_code == 200
        await double.wait_for(lambda: posts() == 1, WAIT)
        assert query(bot, "select state, name, user_id, channel_id, provider from room_intents") == [
            ("creating", "doomed", "U0002", "C0001", "digitalsamba")], "written down before the provider was asked"
        bot.kill9()
        await double.wait_for(lambda: bot.state.requests[-1].status == 500, WAIT)
        (await sandbox.delete("/_sandbox/faults")).raise_for_status()
        bot.start()
        told = await double.wait_for(lambda: [e for e in double.ephemerals("U0002") if "doomed" in e.text], WAIT)
        assert "couldn't create" in told[0].text and "Nothing was created" in told[0].text
        await double.wait_for(lambda: query(bot, "select count(*) from room_intents") == [(0,)], WAIT)
        assert not bot.state.rooms and not double.messages("C0001")

        # 2. Dies while Digital Samba is making the room (it answers after 2 s): the room exists, unrecorded.
        (await sandbox.put("/_sandbox/faults", json={"latency_ms": 2000, "paths": "/rooms"})).raise_for_status()
        async with bot.user() as ada:
            assert (await ada.acommand("new orphan")).status_code == 200
        await double.wait_for(lambda: posts() == 2, WAIT)
        bot.kill9()
        await double.wait_for(lambda: any(r.friendly_url == "orphan" for r in bot.state.rooms.values()), WAIT)
        (await sandbox.delete("/_sandbox/faults")).raise_for_status()
        assert query(bot, "select count(*) from rooms") == [(0,)] and room_message(double, "orphan") is None

        bot.start()
        message = await double.wait_for(lambda: room_message(double, "orphan"), WAIT)
        assert "late" in str(message.blocks) and "interrupted" in str(message.blocks)
        assert "<@U0001>" in str(message.blocks)
        await double.wait_for(lambda: query(bot, "select count(*) from room_intents") == [(0,)], WAIT)
        [(room_id, message_ts)] = query(bot, "select id, message_ts from rooms where name = 'orphan'")
        assert message_ts == message.ts and join_value(message) == room_id
        # The name is not lost to its own orphan: asking again brings the same room back, no `orphan-2`.
        async with bot.user() as ada:
            await ada.acommand("new orphan")
        await double.wait_for(lambda: [e for e in double.ephemerals("U0001") if "already exists" in e.text], WAIT)
        assert len([m for m in double.messages("C0001") if not m.thread_ts]) == 2
        assert sorted(r.friendly_url for r in bot.state.rooms.values()) == ["orphan"]
    assert "Traceback" not in bot.log


async def test_serve_on_a_busy_port_fails_before_running_any_job(world):
    """A digest is owed (its time passed while the bot was down). A second `meetops serve` started on a port
    already in use must exit without running it; the real one then posts it."""
    bot, double = world, world.double
    db = open_db(bot.db_path)
    save(db, DigestRecord(team_id="T0001", channel_id="C0001", cadence="daily", at_time="09:00", tz="UTC",
                          next_run=(datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(), created_by="U0001"))
    db.close()
    before = query(bot, "select next_run, last_covered_until from digests")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", bot.port))
        busy.listen()
        bot.start(wait=False)
        assert bot.wait_exit() != 0
    assert query(bot, "select next_run, last_covered_until from digests") == before, "no digest job ran"
    assert {c.method for c in double.calls} <= {"auth.test"}, "nothing was sent to Slack"
    assert "serving" not in bot.log

    bot.start()
    # No meetings since: the digest says so (once), and the next one is armed.
    posted = await double.wait_for(lambda: [m for m in double.messages("C0001") if "meetings in" in str(m.blocks)],
                                   WAIT)
    await double.wait_idle(quiet=0.5)
    assert len(posted) == 1 and len(double.messages("C0001")) == 1
    assert query(bot, "select next_run from digests") != [before[0][:1]]
    assert bot.log.index("serving Slack") < bot.log.index("posted the daily digest of C0001"), "the job ran once serving"
