"""OpenTalk client against its emulator, over loopback: what a person would notice."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.errors import ProviderNotFound, ProviderRejected, ProviderUnavailable
from bot.providers import registry
from bot.providers.base import Person, RestreamTarget, Role, RoomSpec
from bot.providers.opentalk import client as client_module
from bot.providers.scheduling import MeetingPlan
from bot.recurrence import Repeat

GUEST = Person("U2", "T1:U2", Role.ATTENDEE, "Grace")
ADA = Person("U1", "T1:U1", Role.MODERATOR, "Ada", email="Ada@Example.com")


@pytest.fixture
def emulator():
    server = registry.load("opentalk").start_emulator()
    yield server
    server.stop()


@pytest.fixture
async def provider(emulator):
    plugin = registry.load("opentalk")
    client = plugin.build(plugin.settings_model(_env_file=None, **emulator.client_settings()))
    yield client
    await client.aclose()


def control(emulator, method: str, path: str, **kwargs) -> httpx.Response:
    response = httpx.request(method, emulator.url + "/_sandbox" + path, **kwargs)
    response.raise_for_status()
    return response


def state(emulator) -> dict:
    return control(emulator, "GET", "/state").json()


def requests(emulator) -> list[dict]:
    return control(emulator, "GET", "/requests").json()


async def new_room(provider, name="Standup", *options: str):
    return await provider.create_room(RoomSpec(name, name.lower(), f"{name} room", False, "T1:C1",
                                               frozenset(options)), idempotency_key=name)


async def test_a_room_is_a_titled_event_without_e_mails(provider, emulator):
    room = await new_room(provider, "Standup", "waiting-room")
    event = state(emulator)["events"][0]
    assert event["title"] == "Standup" and event["is_time_independent"] is True
    assert room.extra["event_id"] == event["id"] and room.extra["waiting_room"] is True
    post = next(r for r in requests(emulator) if r["method"] == "POST" and r["path"] == "/v1/events")
    assert post["query"] == {"suppress_email_notification": "true"}
    assert room.room_url.endswith(f"/room/{room.id}")
    assert [label for label, _ in room.facts] == ["Waiting room"]  # no dial-in asked for; who admits people


async def test_phone_dial_in_shows_number_room_id_and_pin(provider, emulator):
    room = await new_room(provider, "Phone", "phone")
    facts = dict(room.facts)
    sip = state(emulator)["rooms"][room.id]
    assert sip["sip"] is True
    assert facts["Dial in"] == "+49 30 555 0100"
    assert facts["Phone room id"].isdigit() and len(facts["Phone PIN"]) == 10


async def test_phone_on_a_deployment_without_call_in_says_so(provider, emulator):
    control(emulator, "PUT", "/features", json={"call_in": None})
    room = await new_room(provider, "Nophone", "phone")
    assert "no phone dial-in" in dict(room.facts)["Phone"]


async def test_rooms_are_listed_across_cursor_pages(provider, emulator):
    provider.page_size = 7
    made = {(await new_room(provider, f"Room{n}")).id for n in range(20)}
    listed = [room async for room in provider.iter_rooms()]
    assert made == {room.id for room in listed} and len(listed) == 20
    assert {room.description for room in listed} == {f"Room{n}" for n in range(20)}
    pages = [r for r in requests(emulator) if r["method"] == "GET" and r["path"] == "/v1/events"]
    assert len(pages) == 3 and all("after" in r["query"] for r in pages[1:])


async def test_a_guest_gets_an_expiring_invite_link_reused_until_it_expires(provider, emulator):
    room = await new_room(provider)
    grant = await provider.issue_join(room, GUEST, lifetime=timedelta(hours=2))
    code = grant.url.split("?invite=")[1]
    assert grant.url == f"{room.room_url}?invite={code}" and not grant.identity_bound
    assert "carry no name" in grant.note
    assert code not in str(grant.handle)  # the handle finds the code again; it does not hold it
    assert abs((grant.expires_at - datetime.now(timezone.utc)) - timedelta(hours=2)) < timedelta(seconds=5)
    again = await provider.issue_join(room, GUEST, lifetime=timedelta(hours=2), previous=grant.handle)
    assert again.url == grant.url
    assert len(state(emulator)["rooms"][room.id]["invites"]) == 1  # reused, not minted per click
    assert httpx.get(grant.url).status_code == 200


async def test_an_invite_stops_working_when_it_expires(provider, emulator):
    room = await new_room(provider)
    grant = await provider.issue_join(room, GUEST, lifetime=timedelta(seconds=3))
    assert httpx.get(grant.url).status_code == 200
    await asyncio.sleep(3.3)
    page = httpx.get(grant.url)
    assert page.status_code == 403 and "expired" in page.text
    fresh = await provider.issue_join(room, GUEST, lifetime=timedelta(hours=1), previous=grant.handle)
    assert fresh.url != grant.url and httpx.get(fresh.url).status_code == 200


async def test_a_person_with_an_opentalk_account_is_invited_to_the_event(provider, emulator):
    room = await new_room(provider)
    grant = await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
    assert grant.url == room.room_url and grant.identity_bound and "sign in" in grant.note
    invitees = state(emulator)["events"][0]["invitees"]
    assert [(i["profile"]["email"], i["role"]) for i in invitees] == [("ada@example.com", "moderator")]
    assert state(emulator)["rooms"][room.id]["invites"] == []  # no shareable code for her


async def test_without_user_search_everyone_gets_an_invite_link(provider, emulator):
    control(emulator, "PUT", "/features", json={"user_search": False})
    room = await new_room(provider)
    grant = await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
    assert "?invite=" in grant.url and not grant.identity_bound


async def test_delete_removes_the_event_its_room_and_invites(provider, emulator):
    room = await new_room(provider)
    grant = await provider.issue_join(room, GUEST, lifetime=timedelta(hours=1))
    await provider.delete_room(room)
    assert state(emulator)["rooms"] == {} and state(emulator)["events"] == []
    assert httpx.get(grant.url).status_code == 404
    with pytest.raises(ProviderNotFound):  # a Join clicked on the old room message
        await provider.issue_join(room, GUEST, lifetime=timedelta(hours=1))
    with pytest.raises(ProviderNotFound):
        await provider.get_room(room.id)
    await provider.delete_room(room)  # twice is fine


async def test_a_stream_destination_is_stored_never_echoed_and_removed(provider, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    room = await new_room(provider)
    started = await provider.start_restream(room, RestreamTarget("YouTube", "yt-key-123456", type="youtube"))
    assert started.live is False and "livestream control" in started.note and "yt-key" not in started.note
    targets = state(emulator)["rooms"][room.id]["streaming_targets"]
    assert [(t["kind"], t["streaming_endpoint"]) for t in targets] == [("custom", "rtmp://a.rtmp.youtube.com/live2")]
    await provider.start_restream(room, RestreamTarget("Own", "own-key-99", server_url="rtmp://live.example.com/x",
                                                       public_url="https://watch.example.com/"))
    assert len(state(emulator)["rooms"][room.id]["streaming_targets"]) == 1  # one destination at a time
    await provider.stop_restream(room)
    assert state(emulator)["rooms"][room.id]["streaming_targets"] == []
    assert "yt-key-123456" not in caplog.text and "own-key-99" not in caplog.text
    assert "yt-key-123456" not in httpx.get(emulator.url + "/_sandbox/requests").text


async def test_a_refused_stream_destination_is_said_in_words(provider):
    room = await new_room(provider)
    with pytest.raises(ProviderRejected) as info:
        await provider.start_restream(room, RestreamTarget("Mine", "k-secret-1", server_url="not a url"))
    text = info.value.user_message
    assert "stream destination" in text and "streaming_endpoint" not in text and "k-secret-1" not in text


async def test_recordings_are_recording_assets_downloaded_with_the_bots_token(provider, emulator):
    room = await new_room(provider)
    control(emulator, "POST", f"/rooms/{room.id}/recording")
    recordings = [r async for r in provider.iter_recordings(room)]
    assert len(recordings) == 1 and recordings[0].name.endswith(".webm") and recordings[0].url is None
    async with provider.open_recording(room, recordings[0].id) as download:
        data = b"".join([chunk async for chunk in download.chunks])
    assert data.startswith(b"WEBM") and len(data) == download.size
    with pytest.raises(ProviderNotFound):
        async with provider.open_recording(room, "2b1f8a47-0000-4000-8000-000000000000"):
            pass


async def test_sim_verbs_without_a_rest_equivalent_say_why(provider, emulator):
    room = await new_room(provider)
    for verb in ("join", "leave", "end", "summary"):
        response = httpx.post(f"{emulator.url}/_sandbox/rooms/{room.id}/{verb}", json={"name": "Grace"})
        assert response.status_code == 422 and "OpenTalk" in response.json()["message"]


async def test_a_weekly_meeting_is_scheduled_with_an_rrule_and_e_mail_invites(provider, emulator):
    # 23:30 UTC is always the next calendar day in Berlin (UTC+1 or +2): the rule must name Berlin's weekday,
    # which is the day the invitees see, not UTC's.
    berlin = ZoneInfo("Europe/Berlin")
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(hour=23, minute=30, second=0, microsecond=0)
    plan = MeetingPlan("Planning", start, timedelta(minutes=30), "Europe/Berlin", Repeat.WEEKLY,
                       ("grace@example.com",))
    meeting = await provider.schedule_meeting(plan)
    event = state(emulator)["events"][0]
    weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][start.astimezone(berlin).weekday()]
    assert start.astimezone(berlin).weekday() != start.weekday()
    assert event["recurrence_pattern"] == [f"FREQ=WEEKLY;BYDAY={weekday}"]
    assert event["starts_at"]["timezone"] == "Europe/Berlin"
    assert state(emulator)["emails_sent"] == [{"to": "grace@example.com", "event": "Planning"}]
    upcoming = [o async for o in provider.iter_upcoming(since=datetime.now(timezone.utc),
                                                         until=datetime.now(timezone.utc) + timedelta(days=22))]
    # the same Berlin wall-clock time every week, even across a change to or from summer time
    assert [o.starts_at for o in upcoming] == [(start.astimezone(berlin) + timedelta(weeks=n)).astimezone(timezone.utc)
                                               for n in range(3)]
    assert all(o.room_id == meeting.room.id and o.repeating for o in upcoming)


async def test_an_unknown_zone_is_refused_in_words(provider):
    plan = MeetingPlan("Bad zone", datetime.now(timezone.utc) + timedelta(days=1), timedelta(minutes=30),
                       "Mars/Olympus_Mons")
    with pytest.raises(ProviderRejected) as info:
        await provider.schedule_meeting(plan)
    text = info.value.user_message
    assert "time zone" in text.lower() and "starts_at" not in text and "timezone" not in text


async def test_a_recurrence_the_api_refuses_is_said_in_words(provider, monkeypatch):
    monkeypatch.setattr(client_module, "rrule_line", lambda *args: "FREQ=SECONDLY")
    plan = MeetingPlan("Too often", datetime.now(timezone.utc) + timedelta(days=1), timedelta(minutes=30), "UTC",
                       Repeat.DAILY)
    with pytest.raises(ProviderRejected) as info:
        await provider.schedule_meeting(plan)
    assert info.value.status == 422
    assert "The repeat rule repeats more often than hourly." in info.value.user_message
    assert "recurrence_pattern" not in info.value.user_message


async def test_an_invitee_the_api_refuses_does_not_fail_the_meeting(provider, emulator):
    plan = MeetingPlan("Mixed", datetime.now(timezone.utc) + timedelta(days=1), timedelta(minutes=30), "UTC",
                       invitees=("ok@example.com", "not-an-address"))
    meeting = await provider.schedule_meeting(plan)
    assert meeting.invited == ("ok@example.com",)
    assert meeting.problems and "e-mail address" in meeting.problems[0] and "email" not in meeting.problems[0][15:]


async def test_opentalk_slow_is_said_with_the_wait(emulator):
    plugin = registry.load("opentalk")
    client = plugin.build(plugin.settings_model(_env_file=None, **{**emulator.client_settings(),
                                                                   "timeout_seconds": 1}))
    try:
        await client.check()
        control(emulator, "PUT", "/faults", json={"latency_ms": 1500, "paths": "/v1/events"})
        with pytest.raises(ProviderUnavailable) as info:
            await client.create_room(RoomSpec("Slow", "slow", "", False, "T:C"), idempotency_key="s")
    finally:
        await client.aclose()
    assert "not answering" in info.value.user_message and "1 s" in info.value.user_message
    await asyncio.sleep(0.6)
    # a POST that got no answer is never sent again blindly
    posts = [r for r in requests(emulator) if r["method"] == "POST" and r["path"] == "/v1/events"]
    assert len(posts) == 1


async def test_opentalk_down_then_back(provider, emulator):
    await provider.check()
    control(emulator, "PUT", "/faults", json={"status": 503, "count": 1, "paths": "/v1/rooms"})
    room_id = (await new_room(provider)).id
    assert (await provider.get_room(room_id)).id == room_id  # one 503 on a read is retried
    control(emulator, "PUT", "/faults", json={"status": 502, "paths": "/v1/"})
    with pytest.raises(ProviderUnavailable) as info:
        await new_room(provider, "Down")
    assert "try again" in info.value.user_message and "{" not in info.value.user_message


async def test_an_account_holder_is_invited_once_and_again_when_their_role_changes(provider, emulator):
    room = await new_room(provider)
    attendee = Person("U1", "T1:U1", Role.ATTENDEE, "Ada", email="ada@example.com")
    first = await provider.issue_join(room, attendee, lifetime=timedelta(hours=1))
    before = len(requests(emulator))
    again = await provider.issue_join(room, attendee, lifetime=timedelta(hours=1), previous=first.handle)
    assert again.url == first.url and len(requests(emulator)) == before  # reused: no call at all
    await provider.issue_join(room, ADA, lifetime=timedelta(hours=1), previous=first.handle)  # now a moderator
    [invitee] = state(emulator)["events"][0]["invitees"]
    assert invitee["role"] == "moderator"
