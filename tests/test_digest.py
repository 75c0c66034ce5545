"""`/meet digest`: schedules, the job, catch-up after a restart, and digests over many pages of sessions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import commands.digest
from bot.devtools.timing import job_time, run_job
from bot.providers.base import Session
from commands.digest import job_id, next_run, session_line, totals_block
from storage import digests as store
from storage import rooms
from tests.scheduling import clock, harness, meeting, new_room  # noqa: F401

UTC = timezone.utc
MADRID = "Europe/Madrid"


def channel_posts(harness, channel="C0001"):
    """The digests themselves (not the announcements of their schedule)."""
    return [m for m in harness.double.messages(channel) if m.text.startswith("Meetings digest")]


def announcements(harness, channel="C0001"):
    return [m for m in harness.double.messages(channel) if "meeting digest" in m.text]


async def reply_to(harness, user_id="U0001"):
    return await harness.double.wait_for(lambda: harness.double.ephemerals(user_id) and harness.double.ephemerals(user_id)[-1])


# -- timing (pure) -----------------------------------------------------------------------


def test_next_daily_run_is_on_the_wall_clock_of_the_zone():
    after = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # 08:00 in Madrid
    assert next_run(after, cadence="daily", at_time="09:00", tz=MADRID) == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert next_run(datetime(2026, 3, 10, 8, 0, tzinfo=UTC), cadence="daily", at_time="09:00", tz=MADRID) == \
        datetime(2026, 3, 11, 8, 0, tzinfo=UTC), "strictly after"


def test_daily_run_keeps_its_local_time_across_dst():
    before = next_run(datetime(2026, 3, 28, 9, 0, tzinfo=UTC), cadence="daily", at_time="09:00", tz=MADRID)
    after = next_run(before, cadence="daily", at_time="09:00", tz=MADRID)
    assert before == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST, the day clocks go forward
    assert after - before == timedelta(days=1)
    skipped = next_run(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), cadence="daily", at_time="02:30", tz=MADRID)
    assert skipped == datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "02:30 doesn't exist that day: 03:30 CEST"


def test_next_weekly_run():
    friday = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert next_run(friday, cadence="weekly", weekday=0, at_time="09:00", tz="UTC") == \
        datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    monday_late = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert next_run(monday_late, cadence="weekly", weekday=0, at_time="09:00", tz="UTC") == \
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_session_line_and_totals():
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    session = Session("s", "r", start, start + timedelta(minutes=45), False, 3)
    assert session_line(session, "Stand<up>", ZoneInfo(MADRID), None, [("recording", "https://x/1.mp4")]) == (
        "• *Stand&lt;up&gt;*, Mon 05 Jan 09:00, 45 min, 3 people\n"
        "    Summary: none requested\n"
        "    :movie_camera: <https://x/1.mp4|recording>")
    # A platform that reports meetings but not people (Eyeson), and makes no summaries: neither is claimed.
    unknown = Session("s", "r", start, start + timedelta(minutes=45), False, 0)
    assert session_line(unknown, "standup", ZoneInfo(MADRID), None, [], summaries=False) == (
        "• *standup*, Mon 05 Jan 09:00, 45 min")
    assert totals_block(2, 5400) == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "2 meetings, 1 h 30 min in all."}]}


# -- through the app ---------------------------------------------------------------------


async def test_schedule_defaults_to_the_persons_zone_and_validates(harness, ada, clock):
    await ada.acommand("digest daily 9:00")
    [set_up] = await harness.double.wait_for(lambda: announcements(harness))
    # Told to the whole channel, in ada's Slack time zone.
    assert "<@U0001> set up this channel's meeting digest. Daily digest at 09:00 (Europe/Madrid)" in set_up.text
    # Saved and armed once Slack has taken the announcement: a moment after the double shows it.
    await harness.double.wait_for(lambda: harness.services.scheduler.get_job(job_id("T0001", "C0001")))
    record = store.get(harness.services.db, "T0001", "C0001")
    assert job_time(harness.services, job_id("T0001", "C0001")) == record.next_run_at > clock()
    await ada.acommand("digest weekly fri 17:30 america/new_york")
    weekly = await harness.double.wait_for(lambda: len(announcements(harness)) == 2 and announcements(harness)[-1])
    assert ("<@U0001> changed this channel's meeting digest from daily at 09:00 (Europe/Madrid) to weekly on "
            "Fridays at 17:30 (America/New_York); the next one is Fri ") in weekly.text
    await ada.acommand("digest daily 09:00 Mars/Olympus")
    assert "don't know the time zone" in (await reply_to(harness)).text
    await ada.acommand("digest off")
    off = await harness.double.wait_for(lambda: len(announcements(harness)) == 3 and announcements(harness)[-1])
    assert off.text == ":newspaper: <@U0001> turned off this channel's meeting digest."
    assert store.get(harness.services.db, "T0001", "C0001") is None
    assert harness.services.scheduler.get_job(job_id("T0001", "C0001")) is None


async def test_changing_a_digest_says_changed_with_both_schedules_and_the_same_one_changes_nothing(harness, ada):
    await ada.acommand("digest daily 09:00 Europe/Madrid")
    await harness.double.wait_for(lambda: store.get(harness.services.db, "T0001", "C0001"))
    await ada.acommand("digest daily 10:30 Europe/Madrid")
    changed = await harness.double.wait_for(lambda: len(announcements(harness)) == 2 and announcements(harness)[-1])
    assert changed.text.startswith(":newspaper: <@U0001> changed this channel's meeting digest from daily at 09:00 "
                                   "(Europe/Madrid) to daily at 10:30 (Europe/Madrid); the next one is ")
    assert "set up" not in changed.text
    await harness.double.wait_for(lambda: store.get(harness.services.db, "T0001", "C0001").at_time == "10:30")
    await ada.acommand("digest daily 10:30 europe/madrid")
    same = await reply_to(harness)
    assert same.text.startswith("Nothing to change: this channel already has that digest. Daily digest at 10:30")
    await harness.double.wait_idle(quiet=0.2)
    assert len(announcements(harness)) == 2, "nothing announced for no change"


async def test_a_digest_for_a_channel_the_bot_cannot_post_in_is_refused_and_not_saved(harness, ada):
    harness.double.fail("chat.postMessage", "not_in_channel")
    await ada.acommand("digest daily 09:00")
    await ada.acommand("digest now")
    first = await reply_to(harness)
    second = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) == 2 and
                                           harness.double.ephemerals("U0001")[-1])
    for reply in (first, second):
        assert "can't post in <#C0001> (not_in_channel)" in reply.text and "/invite @meetops" in reply.text
    assert store.get(harness.services.db, "T0001", "C0001") is None


async def test_a_quiet_period_says_so_in_one_line(harness, ada):
    await ada.acommand("digest now")
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    assert post.text == "Meetings digest" and "No meetings" in post.blocks[0]["text"]["text"]


async def test_a_deleted_rooms_meeting_promises_no_summary(harness, ada, sandbox):
    room = await new_room(harness, ada)
    (await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Linus"})).raise_for_status()
    (await sandbox.post("/_sandbox/rooms/standup/end", json={})).raise_for_status()
    await harness.double.wait_for(lambda: rooms.get(harness.services.db, room.id).status == "ended")
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    await ada.asubmit(form)
    await harness.double.wait_for(lambda: rooms.get(harness.services.db, room.id).status == "deleted")
    await ada.acommand("digest now")
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    assert "• *standup*" in str(post.blocks) and "Summary: none (the room was deleted)" in str(post.blocks)
    assert "on its way" not in str(post.blocks)


async def test_a_digest_over_several_pages_of_sessions(harness, ada, sandbox, clock, monkeypatch):
    monkeypatch.setattr(commands.digest, "MESSAGE_BLOCKS", 4)  # force several messages
    room = await new_room(harness, ada)
    other = await new_room(harness, ada.as_user("U0001", channel_id="C0002", channel_name="random"), "elsewhere")
    start = clock() - timedelta(hours=6)
    for name, count in ((room.id, 250), (other.id, 30)):
        (await sandbox.post("/_sandbox/sessions", json={
            "room": name, "start_time": start.isoformat(), "duration_minutes": 1, "interval_minutes": 1,
            "participants": 4, "count": count, "summary": "Done."})).raise_for_status()
    harness.sandbox_state.requests.clear()
    await ada.acommand("digest now")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None), timeout=10)
    assert "(250 meetings)" in reply.text
    posts = channel_posts(harness)
    first, rest = posts[0], posts[1:]
    assert first.thread_ts is None and rest and all(p.thread_ts == first.ts for p in rest)
    assert all(len(p.blocks) <= 4 for p in posts)
    assert all(len(b["text"]["text"]) <= 3000 for p in posts for b in p.blocks if b["type"] == "section")
    lines = [line for p in posts for b in p.blocks if b["type"] == "section" for line in b["text"]["text"].split("\n")
             if line.startswith("• ")]
    assert len(lines) == 250 and all("*standup*" in line and "4 people" in line for line in lines)
    starts = [(start + timedelta(minutes=i)).astimezone(ZoneInfo(MADRID)).strftime("%a %d %b %H:%M")
              for i in range(250)]
    assert [line.split(", ")[1] for line in lines] == starts, "every session, in start order, in ada's zone"
    assert "250 meetings" in str(posts[-1].blocks[-1])
    offsets = [r.query["offset"] for r in harness.sandbox_state.requests if r.path == "/api/v1/sessions"]
    assert offsets == ["0", "100", "200"], "read page by page"


async def test_scheduled_digest_covers_since_the_previous_one(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    await ada.acommand("digest daily 09:00 UTC")
    await harness.double.wait_for(lambda: announcements(harness))
    await meeting(harness, sandbox, room)
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    first = await harness.double.wait_for(lambda: channel_posts(harness))
    assert "*standup*" in str(first[0].blocks)
    record = store.get(harness.services.db, "T0001", "C0001")
    assert record.covered_until == clock() and record.next_run_at == clock() + timedelta(days=1)
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    second = await harness.double.wait_for(lambda: len(channel_posts(harness)) == 2 and channel_posts(harness)[-1])
    assert "No meetings" in str(second.blocks), "the meeting was in the previous digest"


async def test_a_digest_missed_while_down_is_posted_once_at_start_up(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    await ada.acommand("digest daily 09:00 UTC")
    await harness.double.wait_for(lambda: announcements(harness))
    await meeting(harness, sandbox, room)
    await harness.stop_bot()
    clock.advance(days=3)  # three slots missed
    await harness.start_bot()
    assert job_time(harness.services, job_id("T0001", "C0001")) == clock(), "catch-up armed for now"
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    assert "*standup*" in str(post.blocks)
    upcoming = job_time(harness.services, job_id("T0001", "C0001"))
    assert clock() < upcoming <= clock() + timedelta(days=1)
    assert len(channel_posts(harness)) == 1


async def digest_posting_held(harness, ada, sandbox, clock, *, stage: str) -> asyncio.Task:
    """A channel's digest with one meeting in it, its scheduled run started with its posts held at `stage`
    (bot.devtools.slack_double.SlackDouble.hold): the task to cancel as the process dies."""
    room = await new_room(harness, ada)
    await ada.acommand("digest daily 09:00 UTC")
    await harness.double.wait_for(lambda: announcements(harness))
    await meeting(harness, sandbox, room)
    harness.double.hold("chat.postMessage", 30, stage=stage,
                        when=lambda args: str(args.get("text", "")).startswith("Meetings digest"))
    return asyncio.create_task(run_job(harness.services, clock, job_id("T0001", "C0001")))


async def test_a_digest_the_process_died_posting_is_not_posted_again(harness, ada, sandbox, clock):
    """The digest is in the channel, but Slack's answer never came back: the process died first. The next run
    finds it by its metadata instead of posting a second copy, and says in its thread that it may stop short."""
    dying = await digest_posting_held(harness, ada, sandbox, clock, stage="after")
    [first] = await harness.double.wait_for(lambda: channel_posts(harness))
    covering = clock()
    dying.cancel()  # the process dies here
    for task in list(harness.services.background):
        task.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    await harness.stop_bot()
    harness.double.release_holds()

    await harness.start_bot()
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    await harness.wait_idle()
    assert channel_posts(harness) == [first], "one digest, not two"
    [note] = [m for m in harness.double.thread("C0001", first.ts) if m.ts != first.ts]
    assert "This digest was interrupted while it was being posted" in note.text
    record = store.get(harness.services.db, "T0001", "C0001")
    assert record.covered_until == covering and record.posting_until is None


async def test_a_digest_that_never_reached_slack_before_the_process_died_is_posted_at_the_next_run(
        harness, ada, sandbox, clock):
    dying = await digest_posting_held(harness, ada, sandbox, clock, stage="before")
    await harness.double.wait_for(lambda: harness.double.calls_to("chat.postMessage")[-1].args.get("text", "")
                                  .startswith("Meetings digest"))
    dying.cancel()  # the process dies with the post still on its way
    await asyncio.gather(dying, return_exceptions=True)
    await harness.stop_bot()
    harness.double.release_holds()  # it never reached Slack

    await harness.start_bot()
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    assert "*standup*" in str(post.blocks)
    assert harness.double.thread("C0001", post.ts) == [post], "nothing to apologise for"


async def test_a_digest_its_platform_kept_from_posting_comes_ten_minutes_later(harness, ada, sandbox, clock, caplog):
    room = await new_room(harness, ada)
    await ada.acommand("digest daily 09:00 UTC")
    await harness.double.wait_for(lambda: announcements(harness))
    await meeting(harness, sandbox, room)
    due = job_time(harness.services, job_id("T0001", "C0001"))
    (await sandbox.put("/_sandbox/faults", json={"status": 503})).raise_for_status()
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    assert channel_posts(harness) == []
    assert job_time(harness.services, job_id("T0001", "C0001")) == due + timedelta(minutes=10)
    assert [r.getMessage() for r in caplog.records if "digest of C0001 waits" in r.getMessage()]
    assert not [r for r in caplog.records if r.exc_info]

    (await sandbox.delete("/_sandbox/faults")).raise_for_status()
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    assert "*standup*" in str(post.blocks)
    assert job_time(harness.services, job_id("T0001", "C0001")) == due + timedelta(days=1)


async def test_digest_shows_the_summary_excerpt_with_a_link(harness, ada, sandbox):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={"summary": "Short and sweet. " * 30})
     ).raise_for_status()
    await harness.double.wait_for(lambda: harness.services.db["summaries"].get(session)["state"] == "posted")
    (await sandbox.post(f"/_sandbox/sessions/{session}/recording", json={})).raise_for_status()
    await harness.double.wait_for(lambda: harness.services.db["recordings"].count == 1 and
                                  harness.services.db["recordings"].rows.__next__()["permalink"])
    await ada.acommand("digest now")
    [post] = await harness.double.wait_for(lambda: channel_posts(harness))
    text = str(post.blocks)
    assert "Short and sweet." in text and "…" in text and "|full summary>" in text
    assert ".mp4" in text and "|recording>" in text


@pytest.mark.parametrize("words, schedule", [
    ("digest daily 9am New York", "daily at 09:00 (America/New_York)"),
    ("digest daily 5:30 pm berlin", "daily at 17:30 (Europe/Berlin)"),
    ("digest weekly friday 17h30 Europe/Paris", "weekly on Fridays at 17:30 (Europe/Paris)"),
    ("digest daily 12am Kolkata", "daily at 00:00 (Asia/Kolkata)"),
])
async def test_a_schedule_takes_times_and_zones_as_people_write_them(harness, ada, words, schedule):
    await ada.acommand(words)
    [set_up] = await harness.double.wait_for(lambda: announcements(harness))
    record = store.get(harness.services.db, "T0001", "C0001")
    assert commands.digest.schedule_words(record) == schedule
    assert f"at {record.at_time} ({record.tz})" in set_up.text  # what was understood, told to the channel


async def test_a_city_that_names_two_zones_asks_which_and_saves_nothing(harness, ada):
    await ada.acommand("digest daily 09:00 Eastern")
    reply = await reply_to(harness)
    assert "`Eastern` could be `Canada/Eastern` or `US/Eastern`. Give the one you mean." in reply.text
    assert store.get(harness.services.db, "T0001", "C0001") is None


@pytest.mark.parametrize("words", ["digest weekly 09:00", "digest daily 25:00", "digest hourly 09:00"])
async def test_bad_schedules_are_explained(harness, ada, words):
    await ada.acommand(words)
    reply = await reply_to(harness)
    assert reply.text.startswith(":warning:")


async def test_a_scheduled_digest_that_cannot_be_posted_tells_whoever_set_it_up(harness, ada, clock):
    await ada.acommand("digest daily 09:00 UTC")
    await harness.double.wait_for(lambda: announcements(harness))
    # The schedule is saved and armed once the announcement went out: wait for that, not just the message.
    await harness.double.wait_for(lambda: harness.services.scheduler.get_job(job_id("T0001", "C0001")))
    harness.double.fail("chat.postMessage", "channel_not_found", count=1)
    await run_job(harness.services, clock, job_id("T0001", "C0001"))
    [dm] = await harness.double.wait_for(lambda: harness.double.dms("U0001"))
    assert "can't post in <#C0001> (channel_not_found)" in dm.text and "/meet digest off" in dm.text
    assert job_time(harness.services, job_id("T0001", "C0001")) > clock(), "the next slot is still armed"
