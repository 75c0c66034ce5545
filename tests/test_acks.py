"""Acks at Bolt's own floor, and Slack's own faults (issue 8 "Acks at Bolt's own floor", issue 7 items 12-13).

Through the real app over HTTP: the authorization comes from the start-up auth.test (no call per
request, none at all while Slack is out of reach), a /meet is answered before Bolt runs it, 429s are
waited out by slack-sdk's retry handlers, and an outage is logged once. A burst's work starts a few
commands per loop turn, in order (what still waits starts at once on a stop). Speed itself is
measured by benchmarks/ack_latency.py, not here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

import commands
from bot.acks import FollowUps
from bot.boundary import GuardedApp
from bot.devtools.harness import SIGNING_SECRET, Harness
from bot.devtools.serving import BackgroundServer
from bot.devtools.slack_user import sign


def room_messages(harness: Harness, name: str) -> list:
    return [m for m in harness.double.messages("C0001") if m.blocks and m.blocks[0].get("text", {}).get("text") == name]


def restart_double(harness: Harness) -> None:
    """Slack comes back: the double serves again on the same port, with everything it had."""
    old = harness.double._server
    harness.double._server = BackgroundServer(old.app, old.host, old.port).start()


async def test_a_cold_burst_is_authorized_from_the_start_up_answer(harness, ada):
    # The bot asked who it is once while starting; nothing has been sent to it since.
    assert len(harness.double.calls_to("auth.test")) == 1
    responses = await asyncio.gather(*(ada.acommand(f"new cold-{i:02d}") for i in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    await harness.double.wait_for(lambda: len(harness.double.calls_to("chat.postMessage")) >= 20, timeout=15)
    # Bolt's own authorization would have called auth.test for every request until one answer was cached.
    assert len(harness.double.calls_to("auth.test")) == 1


async def test_a_stale_answer_is_asked_again_in_the_background_one_call_at_a_time(harness, ada):
    authorization = harness.runtime.slack_authorization
    authorization._max_age = authorization.retry_every = 0  # every request now finds the answer stale
    harness.double.latency(1.0)  # and Slack slow to give a new one
    started = time.monotonic()
    responses = await asyncio.gather(*(ada.acommand("help") for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert time.monotonic() - started < 3.0, "no ack waited for the slow auth.test"
    await harness.wait_idle(quiet=0.3)
    assert len(harness.double.calls_to("auth.test")) == 2  # start-up, then one refresh for the ten requests


async def test_slack_out_of_reach_every_command_is_acked_and_the_outage_logged_once(harness, ada, caplog):
    caplog.set_level(logging.INFO)
    harness.runtime.slack_authorization.retry_every = 0.5  # how often it looks for Slack's return
    harness.double.stop()
    for i in range(4):
        started = time.monotonic()
        response = await ada.acommand(f"new outage-{i}")
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert took < 3.0, f"ack took {took:.2f}s: Slack gives up after 3 s"
    await harness.wait_idle(quiet=0.2, timeout=20)
    # Without Slack no room message can be posted; the rooms exist and nothing crashed.
    assert len(harness.sandbox_state.rooms) == 4
    out_of_reach = [r for r in caplog.records if "out of reach" in r.getMessage()]
    assert len(out_of_reach) == 1, [r.getMessage() for r in out_of_reach]
    assert not [r for r in caplog.records if r.exc_info or r.exc_text], "no traceback per request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    # Slack answers again: said once, and commands are answered in Slack again.
    restart_double(harness)
    await ada.acommand("new after-outage")
    await harness.double.wait_for(lambda: room_messages(harness, "after-outage"), timeout=15)
    await harness.double.wait_for(
        lambda: [r for r in caplog.records if "answers again" in r.getMessage()], timeout=15)


async def test_slack_out_of_reach_at_start_up_still_acks(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with Harness(db_path=str(tmp_path / "db")) as harness:
        await harness.stop_bot()
        harness.double.stop()
        await harness.start_bot()  # its start-up auth.test finds nobody
        authorization = harness.runtime.slack_authorization
        authorization.retry_every = 0.5
        assert authorization.answer is None
        ada = harness.user()
        try:
            response = await ada.acommand("new standup")
            assert response.status_code == 200, response.text
            restart_double(harness)
            # Slack's return is noticed by itself, and the bot knows who it is from then on.
            await harness.double.wait_for(lambda: authorization.answer, timeout=15)
            await ada.acommand("new second")
            await harness.double.wait_for(lambda: room_messages(harness, "second"), timeout=15)
        finally:
            await ada.aclose()
    assert len([r for r in caplog.records if "out of reach" in r.getMessage()]) == 1
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]


async def test_slack_rate_limit_is_waited_out_and_the_room_posted_once(harness, ada, sandbox):
    harness.double.rate_limit("chat.postMessage", retry_after=1, count=1)
    response = await ada.acommand("new ratelimited")
    assert response.status_code == 200
    await harness.double.wait_for(lambda: room_messages(harness, "ratelimited"), timeout=10)
    await harness.wait_idle(quiet=0.3)
    assert len(harness.double.calls_to("chat.postMessage")) == 2  # the 429, then the post Retry-After allowed
    assert len(room_messages(harness, "ratelimited")) == 1
    assert len(harness.sandbox_state.rooms) == 1  # one room: nobody was told to try again
    assert not [e for e in harness.double.ephemerals() if "try again" in e.text.lower()]
    assert not [r for r in harness.double.responses if "try again" in str(r.body).lower()]


async def test_a_command_is_answered_before_bolt_runs_it(harness, ada):
    """The edge answers /meet itself: Slack's 200 never waits for Bolt, and Bolt's run starts only after it."""
    app = harness.runtime.app
    dispatch = app.async_dispatch
    release, started = asyncio.Event(), []

    async def held_dispatch(request):
        started.append(time.monotonic())
        await release.wait()
        return await dispatch(request)

    app.async_dispatch = held_dispatch
    try:
        before = time.monotonic()
        response = await ada.acommand("new held")
        answered = time.monotonic()
        assert response.status_code == 200 and response.text == ""
        assert answered - before < 1.0
        await harness.double.wait_for(lambda: started, timeout=5)
        assert not harness.sandbox_state.rooms, "nothing was done before Bolt ran the command"
        release.set()
        await harness.double.wait_for(lambda: room_messages(harness, "held"), timeout=10)
    finally:
        app.async_dispatch = dispatch


async def test_bolt_refusing_an_answered_command_reaches_the_person(harness, ada):
    """Bolt answers a command itself only when its authorization fails; Slack already has its 200, so
    that answer goes to the person by the command's response_url."""
    async def refuse(**_kwargs):
        raise SlackApiError("refused", {"ok": False, "error": "invalid_auth"})

    authorizations = [m for m in harness.runtime.app._async_middleware_list if hasattr(m, "authorize")]
    originals = [m.authorize for m in authorizations]
    for middleware in authorizations:
        middleware.authorize = refuse
    try:
        response = await ada.acommand("new refused")
        assert response.status_code == 200
        await harness.double.wait_for(lambda: harness.double.responses, timeout=10)
        told = harness.double.responses[0]
        assert told.user == "U0001" and told.body["response_type"] == "ephemeral"
        assert "install" in told.body["text"], told.body  # Bolt's own words for a workspace it can't act in
        assert not harness.sandbox_state.rooms
    finally:
        for middleware, original in zip(authorizations, originals):
            middleware.authorize = original


async def test_a_burst_starts_its_work_a_few_commands_per_loop_turn_in_the_order_it_came():
    started: list[int] = []

    async def work(i: int) -> None:
        started.append(i)

    follow_ups = FollowUps(lambda coro, name: asyncio.get_running_loop().create_task(coro, name=name), per_turn=3)
    for i in range(8):
        follow_ups.start(work(i), name=f"command {i}")
    seen = []
    for _ in range(12):
        await asyncio.sleep(0)  # one loop turn
        seen.append(len(started))
    assert started == list(range(8))
    assert any(0 < n < 8 for n in seen), "the burst started in steps, not all in one turn"
    assert all(later - earlier <= 3 for earlier, later in zip([0, *seen], seen))
    assert len(follow_ups) == 0


async def test_stopping_starts_at_once_what_is_still_waiting():
    started: list[int] = []

    async def work(i: int) -> None:
        started.append(i)

    tasks = []
    follow_ups = FollowUps(lambda coro, name: tasks.append(asyncio.get_running_loop().create_task(coro)), per_turn=1)
    for i in range(5):
        follow_ups.start(work(i), name=f"command {i}")
    follow_ups.start_all()
    assert len(follow_ups) == 0 and len(tasks) == 5
    await asyncio.gather(*tasks)
    assert started == list(range(5))


def test_meet_is_the_first_listener_bolt_tries():
    app = GuardedApp(AsyncApp(token="xoxb-test", signing_secret="test"))
    commands.register(app)
    assert app.registered[0] == ("command", "/meet")
