"""Summaries through the real app: asked for, polled for, pushed by webhooks, and posted exactly once.

Time is driven, not slept: jobs are armed from a fake clock and run by `run_job`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot import ids
from bot.chunking import split_text
from bot.devtools.timing import job_time, run_job
from bot.sandbox.digitalsamba.state import CANNED_SUMMARY
from commands.summaries import job_id, summary_messages
from storage import summaries as store
from tests.scheduling import clock, harness, meeting, new_room, summary_requests, thread_replies  # noqa: F401


def summary_posts(harness, room) -> list:
    return [m for m in thread_replies(harness, room) if "Meeting summary" in str(m.blocks)]


async def test_ready_at_once_is_posted_in_the_thread(harness, ada, sandbox):
    await sandbox.put("/_sandbox/config", json={"summary_ready_after_polls": 0})
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room, "Ada", "Grace")
    await ada.acommand("summary standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "posted the summary" in reply.text
    [post] = await harness.double.wait_for(lambda: summary_posts(harness, room))
    assert "Action items" in str(post.blocks) and post.thread_ts == room.message_ts
    record = store.get(harness.services.db, session)
    assert record.state == store.POSTED and record.permalink and record.excerpt.startswith("The team reviewed")
    assert harness.services.scheduler.get_job(job_id(session)) is None, "nothing left to poll"


async def test_ready_after_three_polls(harness, ada, sandbox, clock):
    await sandbox.put("/_sandbox/config", json={"summary_ready_after_polls": 3})
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    await ada.acommand("summary standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "on its way" in reply.text
    times = []
    for _ in range(3):
        before = clock()
        times.append(await run_job(harness.services, clock, job_id(session)) - before)
    assert all(timedelta(seconds=60) <= gap <= timedelta(seconds=65) for gap in times), "every 60 s plus jitter"
    [post] = await harness.double.wait_for(lambda: summary_posts(harness, room))
    assert "Action items" in str(post.blocks)
    assert len(summary_requests(harness, session)) == 4  # the ask, then three polls
    assert harness.services.scheduler.get_job(job_id(session)) is None
    await ada.acommand("summary standup")  # asking again posts nothing new
    await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) == 2)
    assert "already in" in harness.double.ephemerals("U0001")[-1].text
    assert len(summary_posts(harness, room)) == 1


async def test_never_ready_gives_up_after_the_maximum_wait(harness, ada, sandbox, clock):
    harness.services.settings.meetops_summary_max_wait_minutes = 3
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)  # session_ended arms the poll (auto-summary is on)
    polls = 0
    while harness.services.scheduler.get_job(job_id(session)):
        await run_job(harness.services, clock, job_id(session))
        polls += 1
        assert polls < 10
    assert 3 <= polls <= 4
    note = await harness.double.wait_for(lambda: [m for m in thread_replies(harness, room) if "stopped" in m.text])
    assert "3 h" not in note[0].text and "3 min" in note[0].text
    assert store.get(harness.services.db, session).state == store.GAVE_UP
    assert not summary_posts(harness, room)


async def test_no_transcript_explains_how_to_turn_it_on(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    harness.sandbox_state.rooms[room.id].flags["transcription_enabled"] = False
    session = await meeting(harness, sandbox, room)
    await run_job(harness.services, clock, job_id(session))  # the auto-summary job finds no transcript
    note = await harness.double.wait_for(lambda: thread_replies(harness, room))
    assert "transcription was off" in note[0].text and "Transcription" in note[0].text
    await ada.acommand("summary standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "transcription was off" in reply.text
    assert store.get(harness.services.db, session).state == store.NO_TRANSCRIPT
    assert len(thread_replies(harness, room)) == 1


async def test_webhook_before_the_poll_fires_posts_once(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    assert job_time(harness.services, job_id(session)) > clock()
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={"summary": "We shipped it."})).raise_for_status()
    [post] = await harness.double.wait_for(lambda: summary_posts(harness, room))
    assert "We shipped it." in str(post.blocks)
    assert harness.services.scheduler.get_job(job_id(session)) is None, "the webhook disarmed the poll"
    assert len(summary_requests(harness, session)) == 1, "one API call, no polling"
    await ada.aclick(room_message(harness, room), ids.SUMMARY)
    await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    assert len(summary_posts(harness, room)) == 1


async def test_a_restart_with_a_job_pending_posts_once(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    armed_at = job_time(harness.services, job_id(session))
    await harness.stop_bot()
    # The summary becomes ready while the bot is down: its webhook is lost.
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={})).raise_for_status()
    await harness.start_bot()
    assert job_time(harness.services, job_id(session)) == armed_at, "re-armed from the database"
    await run_job(harness.services, clock, job_id(session))
    [post] = await harness.double.wait_for(lambda: summary_posts(harness, room))
    await harness.stop_bot()
    await harness.start_bot()
    assert harness.services.scheduler.get_job(job_id(session)) is None
    async with harness.user("U0001") as ada_again:  # the restarted bot listens on a new port
        await ada_again.acommand("summary standup")
        await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    assert summary_posts(harness, room) == [post]


async def test_a_restart_while_the_summary_is_asked_for_twice(harness, ada, grace, sandbox, clock):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    await ada.acommand("summary standup")
    await grace.acommand("summary standup")
    await harness.double.wait_for(lambda: len(harness.double.ephemerals()) == 2)
    await harness.stop_bot()
    await harness.start_bot()
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={})).raise_for_status()
    await harness.double.wait_for(lambda: summary_posts(harness, room))
    with pytest.raises(LookupError):
        await run_job(harness.services, clock, job_id(session))
    assert len(summary_posts(harness, room)) == 1


def room_message(harness, room):
    return next(m for m in harness.double.messages(room.message_channel) if m.ts == room.message_ts)


# -- pure --------------------------------------------------------------------------------


def test_long_summaries_fit_slack_without_cutting_words():
    text = " ".join(f"word{i}" for i in range(40_000))
    messages = summary_messages("standup", text)
    assert len(messages) >= 2 and all(len(m) <= 50 for m in messages)
    sections = [b["text"]["text"] for m in messages for b in m][1:]
    assert all(len(s) <= 3000 for s in sections)
    assert " ".join(sections).split() == text.split(), "every word, in order, none cut"


def test_split_text_prefers_paragraphs_and_cuts_only_an_overlong_word():
    assert split_text("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]
    assert split_text(("a" * 6 + "\n\n" + "b" * 3 + " ") * 2, 12) == ["aaaaaa\n\nbbb", "aaaaaa\n\nbbb"]
    assert split_text("ab &amp;&amp;", 7) == ["ab", "&amp;", "&amp;"], "an escape is never cut"
    assert split_text("short", 3000) == ["short"] and split_text("  ", 10) == []


def test_summary_blocks():
    assert summary_messages("Design <review>", "Done & dusted.") == [[
        {"type": "section", "text": {"type": "mrkdwn", "text": ":memo: *Meeting summary: Design &lt;review&gt;*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Done &amp; dusted."}},
    ]]
    started = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
    title = summary_messages("standup", "Done.", started)[0][0]["text"]["text"]
    assert title == (":memo: *Meeting summary: standup*, meeting of "
                     f"<!date^{int(started.timestamp())}^{{date_short_pretty}} {{time}}|20 Nov 09:30 UTC>")
    assert CANNED_SUMMARY  # the sandbox's default text, used by the tests above


async def test_a_session_ended_from_slack_gets_its_summary_without_webhooks(tmp_path, clock):
    """No webhook registered at all: ending the meeting with /meet end still brings the summary by itself."""
    import uuid

    import httpx

    from bot.devtools.harness import Harness
    from bot.sandbox import SandboxState

    world = SandboxState(team_id=str(uuid.uuid4()), developer_key="k" * 40, now=clock)
    async with Harness(db_path=str(tmp_path / "db"), clock=clock, sandbox_state=world) as h:
        ada = h.user()
        room = await new_room(h, ada)
        async with httpx.AsyncClient(base_url=h.sandbox_url) as sandbox:
            await sandbox.put("/_sandbox/config", json={"summary_ready_after_polls": 1})
            await sandbox.post(f"/_sandbox/rooms/{room.id}/join", json={"name": "Grace"})
        await ada.acommand("end standup")
        session = await h.double.wait_for(lambda: h.services.db["rooms"].get(room.id)["session_id"])
        await h.double.wait_for(lambda: h.services.scheduler.get_job(job_id(session)))
        await run_job(h.services, clock, job_id(session))  # IN_PROGRESS
        await run_job(h.services, clock, job_id(session))  # READY
        [post] = await h.double.wait_for(lambda: summary_posts(h, room))
        assert post.thread_ts == room.message_ts
        await ada.aclose()
