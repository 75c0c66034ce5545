"""What a crash, a lost webhook or a Slack fault leaves unfinished is finished once, through the real app over
HTTP (issue 7, items 9, 10 and 12). The `kill -9` versions of these run in tests/test_kill9.py.

Time is driven: jobs are armed from a fake clock and run by `run_job`.
"""

from __future__ import annotations

import asyncio

import httpx

from bot.devtools.timing import run_job
from commands.rooms import message_job_id
from commands.summaries import job_id
from storage import intents, recording_state, rooms
from storage import sessions as session_log
from storage import summaries as store
from tests.scheduling import clock, harness, meeting, new_room, thread_replies  # noqa: F401
from tests.test_restream import go_live, stream_form
from tests.test_rooms import room_messages


def shown(harness, room) -> str:
    """The room message as the channel shows it now."""
    message = next(m for m in harness.double.messages(room.message_channel) if m.ts == room.message_ts)
    return str(message.blocks)


async def live_meeting(harness, sandbox, room) -> None:
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
    await harness.double.wait_for(lambda: "Live" in shown(harness, room))


async def lose_webhooks(harness) -> None:
    """The provider's deliveries stop reaching the bot (as while it is down)."""
    async with httpx.AsyncClient(base_url=harness.sandbox_url + "/api/v1", timeout=10, headers={
            "Authorization": f"Bearer {harness.sandbox_state.developer_key}"}) as api:
        (await api.delete(f"/webhooks/{harness.webhook_id}")).raise_for_status()


# -- item 10: a room message that stays "Live" ----------------------------------------------


async def test_a_meeting_that_ended_while_the_bot_was_down_is_corrected_at_start_up(harness, ada, sandbox):
    room = await new_room(harness, ada)
    await live_meeting(harness, sandbox, room)
    message = next(m for m in room_messages(harness) if m.ts == room.message_ts)
    await go_live(harness, ada, message, stream_form("youtube"))
    await harness.double.wait_for(lambda: "Streaming live to YouTube" in shown(harness, room))
    await ada.acommand("record standup")
    await harness.double.wait_for(lambda: "*Recording*" in shown(harness, room))
    await harness.stop_bot()
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/end", json={})).raise_for_status()  # its webhook is lost
    assert "Live" in shown(harness, room)

    await harness.start_bot()
    await harness.double.wait_for(lambda: "Ended" in shown(harness, room))
    assert "Streaming" not in shown(harness, room), "the stream stopped with the meeting"
    # And the recording: the next meeting's message must not offer to stop one.
    assert recording_state.get(harness.services.db, room.id).state == recording_state.IDLE
    after = rooms.get(harness.services.db, room.id)
    assert after.status == "ended" and session_log.get(harness.services.db, "digitalsamba", after.session_id).state == "ended"
    assert harness.services.scheduler.get_job(job_id(after.session_id)), "its summary is waited for, as usual"


async def test_meet_live_corrects_a_room_message_still_saying_live(harness, ada, sandbox):
    room = await new_room(harness, ada)
    await live_meeting(harness, sandbox, room)
    await lose_webhooks(harness)
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/end", json={})).raise_for_status()
    await ada.acommand("live")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert reply.text == "No room has a live session right now."
    await harness.double.wait_for(lambda: "Ended" in shown(harness, room))


async def test_meet_end_corrects_a_room_message_still_saying_live(harness, ada, sandbox):
    room = await new_room(harness, ada)
    await live_meeting(harness, sandbox, room)
    await lose_webhooks(harness)
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/end", json={})).raise_for_status()
    await ada.acommand("end standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "already ended" in reply.text and "corrected" in reply.text
    assert "Ended" in shown(harness, room)
    assert not harness.sandbox_state.requests_matching("POST", "/end"), "nothing to end at the provider"


# -- item 12: Slack won't take the room message ---------------------------------------------


async def test_a_room_slack_would_not_post_is_kept_and_its_message_posted_later_once(harness, ada, clock):
    harness.double.rate_limit("chat.postMessage", retry_after=1, count=None)  # 429 however often it is asked
    await ada.acommand("new ratelimited")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "I'll post its room message here as soon as it does" in reply.text and "/meet join ratelimited" in reply.text
    room = rooms.find(harness.services.db, "T0001", "ratelimited")
    assert room is not None and room.message_ts is None, "the room is kept, its message owed"
    assert [i.room_id for i in intents.unfinished(harness.services.db)] == [room.id]

    harness.double.reset_faults()  # Slack takes messages again; the retry job posts it
    await run_job(harness.services, clock, message_job_id(room.id))
    [message] = await harness.double.wait_for(lambda: room_messages(harness))
    assert "late" in str(message.blocks) and "Slack wasn't taking messages" in str(message.blocks)
    assert rooms.get(harness.services.db, room.id).message_ts == message.ts
    assert not intents.unfinished(harness.services.db)
    assert harness.services.scheduler.get_job(message_job_id(room.id)) is None

    await ada.acommand("new ratelimited")  # asking again brings the same room back: no `ratelimited-2`
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)
    assert [r.friendly_url for r in harness.sandbox_state.rooms.values()] == ["ratelimited"]


async def test_an_owed_room_message_already_in_the_channel_is_not_posted_again(harness, ada, clock):
    """The post went out but its answer was lost (a 5xx after Slack took it): the retry finds it by its
    metadata and records it instead of posting a second one."""
    harness.double.rate_limit("chat.postMessage", retry_after=1, count=None)
    await ada.acommand("new flaky")
    await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    room = rooms.find(harness.services.db, "T0001", "flaky")
    harness.double.reset_faults()
    # Someone (a retry whose answer never came) already posted it, marked with its metadata.
    posted = await harness.services.slack.chat_postMessage(channel="C0001", text="flaky", blocks=[],
                                                           metadata={"event_type": "meetops_room",
                                                                     "event_payload": {"room": room.id}})
    await run_job(harness.services, clock, message_job_id(room.id))
    assert len(room_messages(harness)) == 1
    assert rooms.get(harness.services.db, room.id).message_ts == posted["ts"]
    assert not intents.unfinished(harness.services.db)


# -- item 9: a long summary cut by a crash between its parts --------------------------------


async def test_a_summary_cut_between_its_parts_posts_only_the_missing_part(harness, ada, sandbox, clock):
    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    text = " ".join(f"word{i}" for i in range(30_000))  # two messages' worth
    harness.double.hold("chat.postMessage", 30, stage="before",
                        when=lambda args: (args.get("metadata") or {}).get("event_payload", {}).get("part") == 1)
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={"summary": text})).raise_for_status()
    await harness.double.wait_for(lambda: [c for c in harness.double.calls_to("chat.postMessage")
                                           if (c.args.get("metadata") or {}).get("event_payload", {}).get("part") == 1])
    # The process dies here: part 1 of 2 is in the thread, part 2 never reached Slack.
    for task in list(harness.services.background):
        task.cancel()
    await harness.stop_bot()
    harness.double.release_holds()
    await harness.start_bot()
    await harness.double.wait_for(lambda: store.get(harness.services.db, session).state == store.PENDING)
    assert store.parts(store.get(harness.services.db, session)).keys() == {0}
    await run_job(harness.services, clock, job_id(session))
    await harness.double.wait_for(lambda: store.get(harness.services.db, session).state == store.POSTED)
    parts = [m.metadata["event_payload"]["part"] for m in thread_replies(harness, room) if m.metadata]
    assert sorted(parts) == [0, 1], "each part once"
    words = " ".join(b["text"]["text"] for m in thread_replies(harness, room) for b in m.blocks[0 if m.metadata[
        "event_payload"]["part"] else 1:]).split()
    assert words == text.split()


# -- item 8: a create the provider answered too late -----------------------------------------


async def test_a_room_the_provider_made_after_its_timeout_is_kept_and_announced(harness, ada, sandbox, clock):
    """Digital Samba answers the create after the bot stopped waiting (2 s): the person hears it failed, and a
    minute later the bot finds the room was made after all, keeps it and posts its message, no `slow-2`."""
    from commands.rooms import intent_job_id

    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 3000, "paths": "/rooms"})).raise_for_status()
    await ada.acommand("new slow")
    failed = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None), 10)
    assert "slow" not in [r.friendly_url for r in rooms.of_team(harness.services.db, "T0001").values()]
    [unsure] = intents.unfinished(harness.services.db)
    assert unsure.state == intents.UNSURE and unsure.slug == "slow", failed.text
    await harness.double.wait_for(lambda: [r for r in harness.sandbox_state.rooms.values() if r.friendly_url == "slow"])
    (await sandbox.delete("/_sandbox/faults")).raise_for_status()

    await run_job(harness.services, clock, intent_job_id(unsure.id))
    [message] = await harness.double.wait_for(lambda: room_messages(harness))
    assert "Digital Samba answered too late" in str(message.blocks) and "<@U0001>" in str(message.blocks)
    assert rooms.find(harness.services.db, "T0001", "slow").message_ts == message.ts
    assert not intents.unfinished(harness.services.db)
    assert len(harness.sandbox_state.rooms) == 1


async def test_asking_again_while_a_late_answer_is_checked_makes_no_twin(harness, ada, sandbox, clock):
    """The reply said 'try again in a minute'; the person did, before the check: no `slow-2` beside `slow`."""
    from commands.rooms import intent_job_id

    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 3000, "paths": "/rooms"})).raise_for_status()
    await ada.acommand("new slow")
    await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None), 10)
    await harness.double.wait_for(lambda: [r for r in harness.sandbox_state.rooms.values() if r.friendly_url == "slow"])
    (await sandbox.delete("/_sandbox/faults")).raise_for_status()
    await ada.acommand("new slow")
    again = await harness.double.wait_for(lambda: harness.double.ephemerals("U0001")[1:] and
                                          harness.double.ephemerals("U0001")[1])
    assert "I'm still finding out whether Digital Samba made *slow*" in again.text
    assert len(harness.sandbox_state.rooms) == 1

    [unsure] = intents.unfinished(harness.services.db)
    await run_job(harness.services, clock, intent_job_id(unsure.id))
    await harness.double.wait_for(lambda: room_messages(harness))
    assert [r.friendly_url for r in rooms.of_team(harness.services.db, "T0001").values()] == ["slow"]


async def test_two_asks_for_one_name_at_once_make_one_room(harness, ada, sandbox):
    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 500, "paths": "/rooms"})).raise_for_status()
    await asyncio.gather(ada.acommand("new dupe"), ada.acommand("new dupe"))
    await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) >= 1)
    await harness.wait_idle()
    assert [r.friendly_url for r in rooms.of_team(harness.services.db, "T0001").values()] == ["dupe"]
    assert len(harness.sandbox_state.rooms) == 1
    assert any("*dupe* already exists in this channel" in e.text for e in harness.double.ephemerals("U0001"))


async def test_a_crash_after_the_room_message_went_out_keeps_the_room_and_that_one_message(harness, ada):
    """The process dies with the room message in the channel but before Slack's answer came back: the room is
    written down, its message still owed. The next start finds the message by its metadata instead of posting
    a second one: one room, one message, the room pointing at it."""
    harness.double.hold("chat.postMessage", 30, stage="after")  # posted; its answer never comes back
    await ada.acommand("new crashed")
    await harness.double.wait_for(lambda: room_messages(harness))
    [owed] = intents.unfinished(harness.services.db)
    assert owed.state == intents.CREATED and not rooms.find(harness.services.db, "T0001", "crashed").message_ts
    for task in list(harness.services.background):  # the process dies here
        task.cancel()
    await harness.stop_bot()
    harness.double.release_holds()

    await harness.start_bot()
    room = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", "crashed")) and r.message_ts and r)
    await harness.wait_idle()
    [message] = room_messages(harness)
    assert room.message_ts == message.ts and room.message_channel == "C0001"
    assert [r.friendly_url for r in harness.sandbox_state.rooms.values()] == ["crashed"]
    assert not intents.unfinished(harness.services.db)
    assert not harness.double.ephemerals("U0001"), "nothing failed as far as the person can tell"


async def test_a_posted_room_message_leaves_nothing_owed(harness, ada):
    """Recording where the room message is settles what the new room owed (one statement, migration m010):
    nothing is left for the next start to look for."""
    await ada.acommand("new settled")
    await harness.double.wait_for(lambda: room_messages(harness))
    await harness.wait_idle()
    assert rooms.find(harness.services.db, "T0001", "settled").message_ts == room_messages(harness)[0].ts
    assert not intents.unfinished(harness.services.db)


async def test_a_create_the_provider_refused_leaves_nothing_behind(harness, ada, sandbox):
    (await sandbox.put("/_sandbox/faults", json={"status": 422, "count": 1, "paths": "/rooms"})).raise_for_status()
    await ada.acommand("new refused")
    await harness.double.wait_for(lambda: harness.double.ephemerals("U0001"))
    assert not intents.unfinished(harness.services.db), "a refusal is final: nothing to finish later"


async def test_a_summary_post_slack_took_but_answered_500_is_not_posted_again(harness, ada, sandbox, clock):
    """Slack posts the summary and then answers 500: the bot can't know it went out. It looks in the thread
    (by the post's metadata) before trying again, and finds it."""
    from commands.summaries import verify_job_id

    room = await new_room(harness, ada)
    session = await meeting(harness, sandbox, room)
    harness.double.fail("chat.postMessage", "internal_error", count=1, status=500, took_effect=True)
    (await sandbox.post(f"/_sandbox/sessions/{session}/summary", json={})).raise_for_status()
    await harness.double.wait_for(lambda: harness.services.scheduler.get_job(verify_job_id(session)))
    assert store.get(harness.services.db, session).state == store.POSTING, "not back to pending: it may be out"
    await run_job(harness.services, clock, verify_job_id(session))
    record = store.get(harness.services.db, session)
    assert record.state == store.POSTED and record.permalink
    assert harness.services.scheduler.get_job(job_id(session)) is None, "no poll left to post it again"
    posts = [m for m in thread_replies(harness, room) if "Meeting summary" in str(m.blocks)]
    assert len(posts) == 1 and posts[0].ts == record.message_ts
