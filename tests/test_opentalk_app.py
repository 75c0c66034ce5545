"""meetops on OpenTalk, end to end: the real app over HTTP, the Slack double and the OpenTalk emulator."""

from __future__ import annotations

import httpx
import pytest

from bot import ids
from bot.devtools.harness import Harness
from bot.meetings import as_provider_room
from storage import rooms
from tests.test_rooms import written


@pytest.fixture
async def harness(tmp_path):
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins="U0003", meetops_provider="opentalk") as h:
        h.double.add_user("U0001", "ada", real_name="Ada Lovelace", email="ada@example.com")
        h.double.add_user("U0002", "grace", real_name="Grace Hopper", email="grace@example.com")
        yield h


@pytest.fixture
def opentalk(harness):
    return harness.runtime.emulators["opentalk"]


def ot_state(opentalk) -> dict:
    return httpx.get(opentalk.url + "/_sandbox/state").json()


def room_messages(harness, channel="C0001"):
    return [m for m in harness.double.messages(channel) if not m.thread_ts]


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def test_new_room_with_phone_shows_dial_in_and_only_possible_buttons(harness, ada, opentalk):
    await ada.acommand("new standup --phone")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    text = str(message.blocks)
    assert "+49 30 555 0100" in text and "Phone PIN" in text
    assert ids.JOIN in buttons(message) and ids.POLL in buttons(message)  # polls run in Slack
    assert ids.END not in buttons(message) and ids.SUMMARY not in buttons(message)
    assert ot_state(opentalk)["events"][0]["title"] == "standup"
    print(text)


async def test_join_gives_guests_an_invite_link_and_account_holders_the_room(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await grace.aclick(message, ids.JOIN)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    print(reply.text, reply.blocks)
    assert "?invite=" in str(reply.blocks) and "anyone holding" in str(reply.blocks).lower()
    await ada.aclick(message, ids.JOIN)
    mine = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    print(mine.text, mine.blocks)
    assert "?invite=" not in str(mine.blocks)


async def test_a_moderator_without_an_opentalk_account_is_not_told_they_join_as_moderator(harness, ada, opentalk):
    """An invite code carries no role: whoever opens it enters as a guest. The reply said "you join as
    *moderator*" to an admin, who then couldn't moderate (or let anyone out of a waiting room)."""
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    linus = ada.as_user("U0003")  # an admin of meetops: a moderator of every room, with no OpenTalk account
    await linus.aclick(message, ids.JOIN)
    reply = await ephemeral(harness, "U0003", "?invite=")
    text = str(reply.blocks)
    assert "you join as *guest*" in text and "*moderator*" not in text
    assert "To moderate, sign in to OpenTalk with an account" in text


async def ephemeral(harness, user_id, containing: str):
    return await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals(user_id) if containing in (e.text + str(e.blocks))), None))


async def test_delete_asks_first_then_deletes_and_the_room_message_says_so(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await grace.acommand("delete standup")
    await ephemeral(harness, "U0002", "moderator")  # not hers to delete
    assert harness.double.views == []
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    assert "can't be undone" in str(form.view["blocks"]) and ot_state(opentalk)["events"]
    response = await ada.asubmit(form)
    assert response.status_code == 200
    await ephemeral(harness, "U0001", "is deleted")
    assert ot_state(opentalk)["events"] == [] and ot_state(opentalk)["rooms"] == {}
    updated = await harness.double.wait_for(lambda: (m := room_messages(harness)[0]).updates and m)
    assert "no longer exists" in str(updated.blocks) and ids.JOIN not in buttons(updated)
    # the old message's Join, clicked anyway: who deleted it, not "deleted there" (at OpenTalk)
    await grace.aclick(message, ids.JOIN)
    gone = await ephemeral(harness, "U0002", "was deleted")
    assert "*standup* was deleted by <@U0001>. Start a new room with" in gone.text


async def test_a_room_deleted_in_opentalk_is_said_when_joined(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    event = ot_state(opentalk)["events"][0]
    room = await written(harness, "standup")
    await harness.services.provider(room).delete_room(as_provider_room(room))  # someone deletes it in OpenTalk
    assert event["id"] not in [e["id"] for e in ot_state(opentalk)["events"]]
    await grace.aclick(message, ids.JOIN)
    reply = await ephemeral(harness, "U0002", "no longer exists")
    assert "OpenTalk" in reply.text + str(reply.blocks)


def asset_downloads(opentalk) -> list[dict]:
    return [r for r in httpx.get(opentalk.url + "/_sandbox/requests").json()
            if r["method"] == "GET" and "/assets/" in r["path"]]


async def test_recordings_are_served_by_meetops_through_signed_links(harness, ada, opentalk):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    room = await written(harness, "standup")
    await ada.acommand("recordings standup")
    await ephemeral(harness, "U0001", "no recordings yet")
    httpx.post(f"{opentalk.url}/_sandbox/rooms/{room.id}/recording").raise_for_status()
    await ada.acommand("recordings standup")
    reply = await ephemeral(harness, "U0001", "1 recording")
    text = reply.text + str(reply.blocks)
    link = next(part.split("|")[0] for part in text.split("<") if "/downloads/" in part)
    assert link.startswith(harness.url + "/downloads/") and opentalk.url not in text
    async with httpx.AsyncClient() as web:
        answer = await web.get(link)
        assert answer.status_code == 200 and answer.content.startswith(b"WEBM")
        assert "attachment" in answer.headers["content-disposition"]
        state = ot_state(opentalk)["rooms"][room.id]["assets"][0]
        assert len(answer.content) == state["size"]
        before = len(asset_downloads(opentalk))
        tampered = link[:-3] + ("xyz" if not link.endswith("xyz") else "abc")
        refused = await web.get(tampered)
        assert refused.status_code == 403 and b"WEBM" not in refused.content
        from datetime import timedelta

        from bot import downloads
        from commands.recordings import download_secret

        token = downloads.sign(download_secret(harness.services), room_id=room.id,
                               recording_id=state["id"], expires_at=harness.services.clock() - timedelta(seconds=1))
        expired = await web.get(f"{harness.url}/downloads/{token}")
        assert expired.status_code == 403 and "expired" in expired.text
        assert len(asset_downloads(opentalk)) == before, "nothing streamed for a refused link"



# -- scheduled meetings -------------------------------------------------------------------

from datetime import datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from bot import schedule_blocks as forms  # noqa: E402
from commands import schedule as schedule_feature  # noqa: E402
from storage import schedules  # noqa: E402


def schedule_values(*, day: str, at: str = "10:00", duration: str = "45 min", zone: str = "Europe/Berlin",
                    repeat: str = "weekly", invitees=("U0002",), title: str = "Sprint planning") -> dict:
    return {forms.TITLE: {forms.TITLE: title}, forms.DATE: {forms.DATE: day}, forms.TIME: {forms.TIME: at},
            forms.DURATION: {forms.DURATION: duration}, forms.ZONE: {forms.ZONE: zone},
            forms.REPEAT: {forms.REPEAT: repeat}, forms.INVITEES: {forms.INVITEES: list(invitees)}}


def next_monday() -> str:
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    return (today + timedelta(days=7 - today.weekday())).isoformat()


async def open_schedule_form(harness, user):
    before = len(harness.double.views)
    await user.acommand("schedule")
    return await harness.double.wait_for(lambda: len(harness.double.views) > before and harness.double.views[-1])


async def test_a_weekly_meeting_is_scheduled_announced_and_reminded(harness, ada, opentalk):
    form = await open_schedule_form(harness, ada)
    zone_input = next(b for b in form.view["blocks"] if b.get("block_id") == forms.ZONE)
    assert zone_input["element"]["initial_value"] == "Europe/Madrid"  # Ada's Slack zone
    response = await ada.asubmit(form, schedule_values(day=next_monday()))
    assert response.status_code == 200 and not response.content, "the form closes"
    reply = await ephemeral(harness, "U0001", "Scheduled *Sprint planning*")
    assert "1 invitation sent" in reply.text
    message = await harness.double.wait_for(lambda: next(
        (m for m in room_messages(harness) if "Scheduled meeting" in str(m.blocks)), None))
    text = str(message.blocks)
    start = datetime.fromisoformat(next_monday() + "T10:00").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    assert f"<!date^{int(start.timestamp())}^" in text and "every Monday" in text
    assert ids.JOIN in str(message.blocks)
    event = ot_state(opentalk)["events"][0]
    assert event["recurrence_pattern"] == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event["starts_at"] == {"datetime": start.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "timezone": "Europe/Berlin"}
    assert ot_state(opentalk)["emails_sent"] == [{"to": "grace@example.com", "event": "Sprint planning"}]
    [record] = schedules.active(harness.services.db)
    job = harness.services.scheduler.get_job(schedule_feature.job_id(record.id))
    assert job.next_run_time == start - timedelta(minutes=10)
    # ten minutes before: the reminder, with Join, and the next one armed a week later
    await schedule_feature.run_reminder(*job.args)
    reminder = await harness.double.wait_for(lambda: next(
        (m for m in room_messages(harness) if "starts" in str(m.blocks) and ":alarm_clock:" in str(m.blocks)), None))
    assert ids.JOIN in str(reminder.blocks)
    again = harness.services.scheduler.get_job(schedule_feature.job_id(record.id))
    assert again.next_run_time == (start + timedelta(weeks=1)) - timedelta(minutes=10)
    # Join from the scheduled meeting's message works like any room's
    await ada.as_user("U0002").aclick(message, ids.JOIN)
    await ephemeral(harness, "U0002", "?invite=")
    # /meet upcoming lists the next occurrences, expanded
    await ada.acommand("upcoming")
    listing = await ephemeral(harness, "U0001", "in the next 30 days")
    assert (listing.text + str(listing.blocks)).count("Sprint planning") >= 4


async def test_upcoming_with_nothing_scheduled_says_how_to_schedule(harness, ada):
    await ada.acommand("upcoming")
    reply = await ephemeral(harness, "U0001", "No meetings")
    assert reply.text == "No meetings are scheduled in this channel. `/meet schedule` schedules one."


async def test_a_scheduled_meeting_gets_the_next_free_link_name(harness, ada, grace):
    # A room already uses the title's link name (in another case), and its first suffix too.
    await ada.acommand('new "SPRINT Planning"')
    await ada.acommand("new sprint-planning-2")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)
    form = await open_schedule_form(harness, ada)
    await ada.asubmit(form, schedule_values(day=next_monday(), invitees=()))
    await ephemeral(harness, "U0001", "Scheduled *Sprint planning*")
    [record] = schedules.active(harness.services.db)
    assert rooms.get(harness.services.db, record.room_id).friendly_url == "sprint-planning-3"
    await grace.acommand("join sprint-planning-3")
    await ephemeral(harness, "U0002", "?invite=")


async def test_reminders_are_rearmed_after_a_restart(harness, ada):
    form = await open_schedule_form(harness, ada)
    await ada.asubmit(form, schedule_values(day=next_monday(), repeat="daily", invitees=()))
    await ephemeral(harness, "U0001", "Scheduled")
    [record] = schedules.active(harness.services.db)
    await harness.stop_bot()
    await harness.start_bot()
    assert harness.services.scheduler.get_job(schedule_feature.job_id(record.id)) is not None


async def test_the_form_refuses_bad_input_in_words(harness, ada):
    form = await open_schedule_form(harness, ada)
    past = (await ada.asubmit(form, schedule_values(day="2020-01-06"))).json()
    assert past["response_action"] == "errors" and "already passed" in past["errors"][forms.DATE]
    backwards = (await ada.asubmit(form, schedule_values(day=next_monday(), duration="until 09:00"))).json()
    assert "end before it starts" in backwards["errors"][forms.DURATION]
    zone = (await ada.asubmit(form, schedule_values(day=next_monday(), zone="Atlantis/Capital"))).json()
    assert "Atlantis/Capital" in zone["errors"][forms.ZONE]
    # linus shares no e-mail address in Slack
    nobody = (await ada.asubmit(form, schedule_values(day=next_monday(), invitees=("U0003",)))).json()
    assert "e-mail address for linus" in nobody["errors"][forms.INVITEES]
    assert schedules.active(harness.services.db) == []


async def test_a_recurrence_opentalk_refuses_is_said_in_words(harness, ada, monkeypatch):
    from bot.providers.opentalk import client as client_module

    monkeypatch.setattr(client_module, "rrule_line", lambda *args: "FREQ=MINUTELY")
    form = await open_schedule_form(harness, ada)
    await ada.asubmit(form, schedule_values(day=next_monday(), invitees=()))
    reply = await ephemeral(harness, "U0001", "OpenTalk said no")
    assert "The repeat rule repeats more often than hourly." in reply.text
    assert "recurrence_pattern" not in reply.text and schedules.active(harness.services.db) == []


async def test_scheduling_on_a_provider_that_cannot_says_why(harness, ada):
    await ada.acommand("schedule --provider digitalsamba")
    reply = await ephemeral(harness, "U0001", "Digital Samba")
    assert "scheduling" in reply.text.lower() and "/meet schedule --provider opentalk" in reply.text
    assert harness.double.views == []


async def test_opentalk_down_while_scheduling_is_said_and_nothing_is_half_written(harness, ada, opentalk):
    form = await open_schedule_form(harness, ada)
    httpx.put(opentalk.url + "/_sandbox/faults", json={"status": 503, "paths": "/v1/events"}).raise_for_status()
    await ada.asubmit(form, schedule_values(day=next_monday(), invitees=()))
    reply = await ephemeral(harness, "U0001", "try again")
    assert "OpenTalk" in reply.text and "{" not in reply.text
    assert schedules.active(harness.services.db) == [] and ot_state(opentalk)["events"] == []


async def test_deleting_a_scheduled_meetings_room_stops_its_reminders(harness, ada, opentalk):
    form = await open_schedule_form(harness, ada)
    await ada.asubmit(form, schedule_values(day=next_monday(), invitees=()))
    await ephemeral(harness, "U0001", "Scheduled")
    [record] = schedules.active(harness.services.db)
    room = rooms.get(harness.services.db, record.room_id)
    await ada.acommand(f"delete {room.friendly_url}")
    form = await harness.double.wait_for(lambda: harness.double.views[-1].view["callback_id"] == "delete_room_modal"
                                         and harness.double.views[-1])
    # It says the meeting goes (a series with all its dates), and where to save recordings first.
    warning = str(form.view["blocks"])
    assert "Its scheduled meeting is cancelled, a repeating series with all its dates." in warning
    assert f"`/meet recordings {room.friendly_url}`" in warning
    await ada.asubmit(form)
    await ephemeral(harness, "U0001", "is deleted")
    assert schedules.active(harness.services.db) == []
    assert harness.services.scheduler.get_job(schedule_feature.job_id(record.id)) is None
    assert ot_state(opentalk)["events"] == []
    # The meeting's message says it won't take place, not just that a room is gone.
    message = next(m for m in harness.double.messages("C0001") if m.ts == record.message_ts)
    assert message.blocks[0]["text"]["text"] == "Scheduled meeting: Sprint planning"
    assert ":no_entry: *Cancelled* by <@U0001>: this meeting won't take place" in str(message.blocks)
    assert ids.JOIN not in str(message.blocks)


async def test_go_live_stores_the_destination_and_says_the_meeting_starts_it(harness, ada, opentalk, caplog):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    room = await written(harness, "standup")
    await ada.aclick(message, ids.GO_LIVE)
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    key = "live-key-7f3a9c"
    await ada.asubmit(form, {ids.RESTREAM_DESTINATION_BLOCK: {ids.RESTREAM_DESTINATION: "youtube"},
                             ids.RESTREAM_KEY_BLOCK: {ids.RESTREAM_KEY: key}})
    reply = await ephemeral(harness, "U0001", "livestream control")
    targets = ot_state(opentalk)["rooms"][room.id]["streaming_targets"]
    assert [t["streaming_endpoint"] for t in targets] == ["rtmp://a.rtmp.youtube.com/live2"]
    updated = await harness.double.wait_for(lambda: (m := room_messages(harness)[0]).updates and m)
    assert "ready as the stream destination" in str(updated.blocks)
    # Nothing streams until the meeting starts it: the words say destination, not a stream running.
    assert buttons(updated)[ids.STOP_STREAM]["text"]["text"] == "Remove destination"
    assert "Remove it with *Remove destination* on the room message" in reply.text, "the button's own words"
    await ada.acommand("restream standup")
    again = await ephemeral(harness, "U0001", "already")
    assert again.text == (":warning: *standup* already has YouTube as its stream destination. Remove it first with "
                          "`/meet restream standup stop`.")
    await ada.acommand("restream standup stop")
    removed = await ephemeral(harness, "U0001", "no longer the stream destination")
    assert removed.text == "YouTube is no longer the stream destination of *standup*."
    assert ot_state(opentalk)["rooms"][room.id]["streaming_targets"] == []
    everything = str(harness.double.calls) + caplog.text + reply.text + httpx.get(opentalk.url + "/_sandbox/requests").text
    assert key not in everything


async def test_join_while_opentalk_is_down_says_so_and_gives_no_link(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    httpx.put(opentalk.url + "/_sandbox/faults", json={"status": 503, "paths": "/v1/rooms"}).raise_for_status()
    await grace.aclick(message, ids.JOIN)
    reply = await ephemeral(harness, "U0002", "try again")
    assert "OpenTalk" in reply.text and "?invite=" not in reply.text + str(reply.blocks)


async def test_rooms_lists_opentalk_rooms_by_name(harness, ada):
    await ada.acommand('new "Design review"')
    await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await ada.acommand("rooms")
    listing = await ephemeral(harness, "U0001", "1 room")
    assert "Design review" in listing.text + str(listing.blocks)


async def test_rooms_lists_the_link_name_the_room_message_shows_not_opentalks_id(harness, ada):
    """OpenTalk has no link names, only room ids: /meet rooms listed `2920e893-…` for a room whose message says
    `standup`. It lists what the message shows and /meet join takes."""
    await ada.acommand("new standup")
    room = await written(harness, "standup")
    await ada.acommand("rooms")
    reply = await ephemeral(harness, "U0001", "*1 room*")
    shown = reply.text + str(reply.blocks)
    assert "*standup*  `standup`" in shown and room.id not in shown


async def test_a_digest_says_opentalk_rooms_cant_be_in_it(harness, ada):
    """OpenTalk neither sends webhooks nor lists meetings held, so its rooms' meetings never reach a digest: it
    says so, rather than a bare "No meetings" that reads as if nobody met."""
    await ada.acommand("new standup")
    await written(harness, "standup")
    await ada.acommand("digest now")
    digest = await harness.double.wait_for(lambda: next(
        (m for m in room_messages(harness) if "No meetings" in str(m.blocks)), None))
    assert "Rooms on OpenTalk aren't in digests: meetops is not told when their meetings happen." in str(digest.blocks)


async def test_a_deleted_opentalk_room_no_longer_marks_the_digest(harness, ada):
    await ada.acommand("new standup")
    room = await written(harness, "standup")
    rooms.update(harness.services.db, room.id, status="deleted")
    await ada.acommand("digest now")
    digest = await harness.double.wait_for(lambda: next(
        (m for m in room_messages(harness) if "No meetings" in str(m.blocks)), None))
    assert "OpenTalk" not in str(digest.blocks)


async def test_live_does_not_claim_opentalk_rooms_are_idle_when_it_cannot_know(harness, ada):
    """OpenTalk neither says who is in a meeting nor sends webhooks: "No room has a live session" was a guess."""
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand("live")
    reply = await ephemeral(harness, "U0001", "live session")
    assert reply.text == ("None of the rooms meetops can check has a live session right now. Rooms on OpenTalk "
                          "aren't included: meetops can't tell when their meetings run.")


async def test_a_waiting_room_says_who_can_let_people_in(harness, ada):
    """Invite links enter as guests, so only a moderator signed in to OpenTalk can admit anyone: said up front."""
    await ada.acommand("new wroom --waiting-room")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    fields = [f["text"] for block in message.blocks for f in block.get("fields", [])]
    assert "*Waiting room*\non: a moderator signed in with an OpenTalk account lets each person in" in fields


async def test_a_room_opentalk_made_before_a_crash_is_found_and_kept(harness, opentalk):
    """The bot died between OpenTalk making the meeting and meetops writing it down. OpenTalk rooms have no
    link names, so the next start finds it by its title among the meetings meetops doesn't have yet, instead
    of telling the person nothing was made (and leaving an orphan for their second ask to twin)."""
    from bot.providers.base import RoomSpec
    from commands.rooms import finish_create
    from storage import intents

    made_elsewhere = await harness.services.providers.get("opentalk").create_room(
        RoomSpec(name="killtwo", slug="killtwo", description="killtwo", private=False, external_id="x"))
    rooms.insert(harness.services.db, rooms.RoomRecord(
        id=made_elsewhere.id, team_id="T0001", channel_id="C0002", creator_id="U0001", name="killtwo",
        friendly_url="killtwo", room_url=made_elsewhere.room_url, provider="opentalk"))  # an older one, already ours
    intent = intents.record(harness.services.db, team_id="T0001", channel_id="C0001", user_id="U0001",
                            name="killtwo", slug="killtwo-2", description="killtwo", private=False, standing=False,
                            provider="opentalk", options=frozenset())
    orphan = await harness.services.providers.get("opentalk").create_room(
        RoomSpec(name="killtwo", slug="killtwo-2", description="killtwo", private=False, external_id="x"))

    await finish_create(harness.services, intent.id)
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    assert "killtwo" in str(message.blocks) and "late" in str(message.blocks)
    assert rooms.get(harness.services.db, orphan.id).message_ts == message.ts
    assert not harness.double.ephemerals("U0001")  # no "nothing was created"
    assert intents.unfinished(harness.services.db) == []
