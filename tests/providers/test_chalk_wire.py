"""Chalk's client against its emulator over real HTTP: what goes on the wire, and what a person hears
when Chalk refuses, is down or slow, or its tokens run out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from bot.config import ConfigError
from bot.devtools.serving import BackgroundServer
from bot.errors import ProviderError, ProviderGone, ProviderRejected, ProviderUnavailable
from bot.providers.base import EventKind, Person, Role
from bot.providers.chalk import PLUGIN
from bot.providers.chalk.settings import ChalkSettings
from bot.providers.chalk.webhooks import ChalkWebhooks
from tests.providers.conformance import ADA, GRACE, spec

HOUR = timedelta(hours=1)


@pytest.fixture
def emulator():
    server = PLUGIN.start_emulator()
    yield server
    server.stop()


@pytest.fixture
def world(emulator):
    return emulator.world


def settings_for(emulator, **overrides) -> ChalkSettings:
    return ChalkSettings(_env_file=None, **{**emulator.client_settings(), **overrides})


@pytest.fixture
async def make_client(emulator):
    made = []

    async def make(**overrides):
        client = PLUGIN.build(settings_for(emulator, **overrides))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def chalk(make_client):
    return await make_client()


@pytest.fixture
async def control(emulator):
    async with httpx.AsyncClient(base_url=emulator.url + "/_sandbox", timeout=10) as client:
        yield client


def person(n: int, role: Role = Role.ATTENDEE, name: str | None = None) -> Person:
    return Person(slack_user_id=f"U{n:04d}", external_id=f"T1:U{n:04d}", role=role, name=name or f"Person {n}")


def calls(world, method: str, tail: str) -> list:
    return world.requests_matching(method, tail)


# -- settings --------------------------------------------------------------------------------


def test_a_join_page_without_token_is_refused_naming_the_setting():
    with pytest.raises(ValidationError) as info:
        ChalkSettings(_env_file=None, join_url="https://meet.example.com/join?room={room}&name={name}")
    assert "CHALK_JOIN_URL" in str(info.value) and "{token}" in str(info.value)


@pytest.mark.parametrize("template, words", [
    ("https://meet.example.com/join?room={room}&token={token}&who={user}", "{user}"),
    ("meet.example.com/join?token={token}", "http(s)"),
    ("https://meet.example.com/join?token={token", "stray brace"),
])
def test_a_join_page_template_meetops_cannot_fill_is_refused(template, words):
    with pytest.raises(ValidationError) as info:
        ChalkSettings(_env_file=None, join_url=template)
    assert "CHALK_JOIN_URL" in str(info.value) and words in str(info.value)


def test_api_url_and_key_are_checked_without_echoing_the_key():
    with pytest.raises(ValidationError) as info:
        ChalkSettings(_env_file=None, api_url="https://chalk.example.com/v2")
    assert "/api/v1" in str(info.value)
    with pytest.raises(ValidationError) as info:
        ChalkSettings(_env_file=None, api_key="sk_live_supersecretvalue")
    assert "ck_live_" in str(info.value) and "supersecretvalue" not in str(info.value)


def test_a_key_without_url_or_join_page_names_what_is_missing():
    settings = ChalkSettings(_env_file=None, api_key="ck_live_" + "x" * 24)
    assert settings.configured
    problems = " ".join(settings.problems())
    assert "CHALK_API_URL" in problems and "CHALK_JOIN_URL" in problems
    with pytest.raises(ConfigError):
        PLUGIN.build(settings)


async def test_a_refused_key_stops_start_up_naming_chalk_api_key(emulator, make_client):
    wrong = "ck_test_" + secrets.token_urlsafe(24)
    client = await make_client(api_key=wrong)
    with pytest.raises(ConfigError) as info:
        await client.check()
    assert "CHALK_API_KEY" in str(info.value) and wrong not in str(info.value)


async def test_neither_key_nor_tokens_reach_a_log_or_an_error(make_client, world, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    chalk = await make_client()
    room = await chalk.create_room(spec("Quiet"), idempotency_key="k")
    grant = await chalk.issue_join(room, GRACE, lifetime=HOUR)
    token = parse_qs(urlsplit(grant.url).query)["token"][0]
    wrong = await make_client(api_key="ck_live_" + "w" * 30)
    with pytest.raises(ProviderError) as info:
        await wrong.get_room(room.id)
    for secret in (world.api_key, "w" * 30, token, chalk.auth.current_token):
        assert secret not in caplog.text and secret not in info.value.user_message
    assert "***" in repr(chalk.auth) and world.api_key not in repr(chalk.auth)


async def test_start_up_check_exchanges_the_key_once(chalk, world):
    await chalk.check()
    assert world.exchanges == 1
    logged = calls(world, "POST", "/auth/token")
    assert logged and logged[0].body == {"api_key": "***"}  # the emulator's log never holds the key


# -- rooms --------------------------------------------------------------------------------


async def test_a_new_room_takes_the_deployments_defaults(emulator, make_client, world):
    chalk = await make_client(max_participants=12, recording_enabled=False, chat_enabled=True)
    room = await chalk.create_room(spec("Board"), idempotency_key="k")
    sent = calls(world, "POST", "/api/v1/rooms")[-1].body
    assert sent["name"] == room.friendly_url
    assert sent["config"] == {"max_participants": 12, "recording_enabled": False, "chat_enabled": True}


async def test_a_name_chalk_already_has_is_taken(chalk):
    from dataclasses import replace

    from bot.errors import NameTaken

    first = await chalk.create_room(spec("Twice"), idempotency_key="a")
    with pytest.raises(NameTaken):
        await chalk.create_room(replace(spec("Twice"), slug=first.friendly_url), idempotency_key="b")


async def test_rooms_are_listed_page_by_page_with_every_status(chalk, world, monkeypatch):
    from bot.providers.chalk import client as module

    monkeypatch.setattr(module, "PAGE_SIZE", 10)
    made = [await chalk.create_room(spec(f"Room {n}"), idempotency_key=str(n)) for n in range(23)]
    await chalk.end_session(made[0], None)
    listed = [r.id async for r in chalk.iter_rooms()]
    assert sorted(listed) == sorted(r.id for r in made)  # the ended one too, each once
    pages = calls(world, "GET", "/api/v1/rooms")
    assert [p.query["offset"] for p in pages] == ["0", "10", "20"]
    assert all(p.query["status"] == "scheduled,active,ended" and p.query["limit"] == "10" for p in pages)


async def test_live_rooms_count_issued_tokens_and_skip_ended_rooms(chalk, world):
    live = await chalk.create_room(spec("Live"), idempotency_key="a")
    over = await chalk.create_room(spec("Over"), idempotency_key="b")
    await chalk.issue_join(live, ADA, lifetime=HOUR)  # a link nobody opened yet still counts, as Chalk counts
    await chalk.issue_join(over, ADA, lifetime=HOUR)
    await chalk.end_session(over, None)
    counts = {r.room_id: r.participants async for r in chalk.iter_live_rooms()}
    assert counts == {live.id: 1}
    assert calls(world, "GET", "/api/v1/rooms")[-1].query["status"] == "active"
    assert "not opened" in PLUGIN.live_note


# -- personal links --------------------------------------------------------------------------


async def test_a_join_link_is_the_meeting_page_with_that_persons_token(emulator, chalk, world):
    room = await chalk.create_room(spec("Standup"), idempotency_key="k")
    zoe = Person(slack_user_id="U9", external_id="T1:U9", role=Role.ATTENDEE, name="Zoë O'Brien & Co")
    before = datetime.now(timezone.utc)
    grant = await chalk.issue_join(room, zoe, lifetime=timedelta(hours=4))
    url = urlsplit(grant.url)
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}" == emulator.url and url.path == "/join"
    assert query["room"] == [room.id] and query["name"] == ["Zoë O'Brien & Co"]
    assert "%26" in grant.url  # the name's "&" is encoded, not a new parameter
    assert grant.identity_bound and "Join* again" in grant.note
    assert timedelta(minutes=59) < grant.expires_at - before <= timedelta(hours=1, seconds=5)
    sent = calls(world, "POST", f"/rooms/{room.id}/participants")[-1].body
    assert sent == {"display_name": "Zoë O'Brien & Co", "external_user_id": "T1:U9", "role": "participant"}
    assert grant.handle["participant_id"] in world.participants
    opened = httpx.get(grant.url)
    assert opened.status_code == 200 and "Zoë O'Brien & Co" in opened.text
    assert calls(world, "GET", "/join")[-1].query["token"] == "***"  # not even the emulator keeps it


async def test_moderators_join_as_hosts(chalk, world):
    room = await chalk.create_room(spec("Standup"), idempotency_key="k")
    grant = await chalk.issue_join(room, ADA, lifetime=HOUR)
    assert world.participants[grant.handle["participant_id"]].role == "host"


async def test_a_second_click_within_the_hour_refreshes_the_token_not_a_new_participant(chalk, world):
    room = await chalk.create_room(spec("Standup"), idempotency_key="k")
    first = await chalk.issue_join(room, GRACE, lifetime=HOUR)
    second = await chalk.issue_join(room, GRACE, lifetime=HOUR, previous=first.handle)
    assert second.handle["participant_id"] == first.handle["participant_id"]
    assert second.url != first.url
    assert len(calls(world, "POST", f"/participants/{first.handle['participant_id']}/token")) == 1
    assert len([p for p in world.participants.values() if p.room_id == room.id]) == 1
    assert httpx.get(second.url).status_code == 200


async def test_an_old_or_removed_participant_is_added_again(chalk, world):
    room = await chalk.create_room(spec("Standup"), idempotency_key="k")
    first = await chalk.issue_join(room, GRACE, lifetime=HOUR)
    stale = {**first.handle, "issued_at": (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()}
    later = await chalk.issue_join(room, GRACE, lifetime=HOUR, previous=stale)
    assert later.handle["participant_id"] != first.handle["participant_id"]
    gone = {**later.handle, "participant_id": "00000000-0000-0000-0000-000000000000"}
    again = await chalk.issue_join(room, GRACE, lifetime=HOUR, previous=gone)
    assert again.handle["participant_id"] not in (first.handle["participant_id"], gone["participant_id"])


async def test_a_full_room_and_an_ended_one_are_said_in_words(make_client):
    chalk = await make_client(max_participants=2)
    room = await chalk.create_room(spec("Small"), idempotency_key="k")
    await chalk.issue_join(room, person(1), lifetime=HOUR)
    await chalk.issue_join(room, person(2), lifetime=HOUR)
    with pytest.raises(ProviderRejected) as full:
        await chalk.issue_join(room, person(3), lifetime=HOUR)
    assert full.value.user_message.startswith("The room is full")
    await chalk.end_session(room, None)
    with pytest.raises(ProviderGone) as ended:
        await chalk.issue_join(room, person(3), lifetime=HOUR)
    assert "has ended" in ended.value.user_message
    for message in (full.value.user_message, ended.value.user_message):
        assert "{" not in message and "error" not in message and "HTTP" not in message


async def test_kicking_removes_that_participant_and_their_link_stops_working(chalk, world):
    room = await chalk.create_room(spec("Standup"), idempotency_key="k")
    grant = await chalk.issue_join(room, GRACE, lifetime=HOUR)
    await chalk.remove_participant(room, grant.handle)
    assert calls(world, "DELETE", f"/participants/{grant.handle['participant_id']}")[-1].status == 200
    assert world.participants[grant.handle["participant_id"]].left_at is not None
    assert httpx.get(grant.url).status_code != 200


# -- bulk invitations ---------------------------------------------------------------------------


async def test_a_bulk_invite_reports_each_person_and_one_failure_fails_no_one_else(make_client, world):
    chalk = await make_client(max_participants=3)
    room = await chalk.create_room(spec("Invites"), idempotency_key="k")
    people = [person(n, name=f"Person {n}") for n in range(1, 5)]
    results = await chalk.invite(room, people, lifetime=HOUR)
    assert len(calls(world, "POST", f"/rooms/{room.id}/participants/bulk")) == 1
    assert [r.person for r in results] == people
    assert [bool(r.grant) for r in results] == [True, True, True, False]
    assert results[3].problem.startswith("The room is full")
    assert len({r.grant.url for r in results[:3]}) == 3
    for result in results[:3]:
        assert httpx.get(result.grant.url).status_code == 200


# -- recordings --------------------------------------------------------------------------------


async def test_recording_twice_is_said_in_words(chalk):
    room = await chalk.create_room(spec("Rec"), idempotency_key="k")
    await chalk.issue_join(room, ADA, lifetime=HOUR)
    await chalk.start_recording(room)
    with pytest.raises(ProviderRejected) as info:
        await chalk.start_recording(room)
    assert info.value.user_message == "A recording is already running in this room."
    await chalk.stop_recording(room)
    with pytest.raises(ProviderRejected) as info:
        await chalk.stop_recording(room)
    assert "nothing to stop" in info.value.user_message


# -- tenant tokens -----------------------------------------------------------------------------


async def test_a_token_chalk_stops_taking_mid_burst_costs_one_refresh(chalk, world, control):
    room = await chalk.create_room(spec("Burst"), idempotency_key="k")
    assert world.exchanges == 1 and world.refreshes == 0
    (await control.post("/chalk/tokens/expire")).raise_for_status()
    found = await asyncio.gather(*(chalk.get_room(room.id) for _ in range(25)))
    assert {r.id for r in found} == {room.id}
    assert world.refreshes == 1 and world.exchanges == 1
    assert len(calls(world, "POST", "/auth/refresh")) == 1


async def test_a_short_token_is_refreshed_before_it_expires(chalk, world, control):
    (await control.put("/chalk/tokens", json={"ttl_seconds": 2})).raise_for_status()
    room = await chalk.create_room(spec("Short"), idempotency_key="k")
    await asyncio.sleep(1.6)  # inside the last quarter of its life
    await asyncio.gather(*(chalk.get_room(room.id) for _ in range(10)))
    assert world.refreshes == 1
    assert not [r for r in world.requests if r.status == 401]  # renewed before Chalk had to refuse it


async def test_a_refused_refresh_falls_back_to_the_key(chalk, world, control):
    room = await chalk.create_room(spec("Fallback"), idempotency_key="k")
    world.refresh_tokens.clear()  # Chalk forgot every refresh token (a restart)
    (await control.post("/chalk/tokens/expire")).raise_for_status()
    assert (await chalk.get_room(room.id)).id == room.id
    assert world.exchanges == 2


# -- Chalk down or slow ----------------------------------------------------------------------


async def test_chalk_down_is_said_in_words(chalk, control):
    (await control.put("/faults", json={"status": 503})).raise_for_status()
    with pytest.raises(ProviderUnavailable) as info:
        await chalk.create_room(spec("Down"), idempotency_key="k")
    assert "Chalk" in info.value.user_message and "try again" in info.value.user_message.lower()


async def test_a_slow_chalk_is_given_up_on_without_repeating_the_join(make_client, control, world):
    chalk = await make_client(timeout_seconds=1)
    room = await chalk.create_room(spec("Slow"), idempotency_key="k")
    (await control.put("/faults", json={"latency_ms": 1500, "paths": "/participants"})).raise_for_status()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as info:
        await chalk.issue_join(room, GRACE, lifetime=HOUR)
    assert time.monotonic() - started < 3.5  # one deadline (1 s), not three tries of 1.5 s
    assert "not answering" in info.value.user_message
    await asyncio.sleep(0.7)
    assert len(calls(world, "POST", f"/rooms/{room.id}/participants")) == 1  # a POST is never sent blindly twice


async def test_the_token_endpoint_down_is_said_in_words(chalk, control):
    (await control.put("/faults", json={"status": 503, "paths": "/auth/"})).raise_for_status()
    with pytest.raises(ProviderError) as info:
        await chalk.get_room("00000000-0000-0000-0000-000000000000")
    assert "Chalk" in info.value.user_message and "{" not in info.value.user_message


# -- webhooks ---------------------------------------------------------------------------------


def signed(secret: str, body: bytes, stamp: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Chalk-Signature": f"sha256={digest}", "X-Chalk-Timestamp": str(stamp)}


DELIVERY = json.dumps({
    "event": "meeting.recording_ready", "timestamp": "2026-12-01T10:00:00Z",
    "meeting": {"id": "room-1", "name": "standup", "participant_count": 2},
    "recording": {"id": "rec-1", "download_url": "https://files.example.com/rec-1.mp4"},
    "summary": "We agreed on Thursday.",
    "action_items": ["Ada writes notes", {"text": "Check staging", "assignee": "Grace"}],
}).encode()


def test_a_signed_delivery_becomes_one_recording_ready_event():
    adapter = ChalkWebhooks("s3cret")
    now = datetime.now(timezone.utc)
    assert adapter.verify(signed("s3cret", DELIVERY, int(now.timestamp())), DELIVERY, now)
    [event] = adapter.parse(DELIVERY)
    assert event.kind == EventKind.RECORDING_READY and event.room_id == "room-1"
    assert event.recording_url == "https://files.example.com/rec-1.mp4"
    assert event.summary == "We agreed on Thursday."
    assert event.action_items == ("Ada writes notes", "Check staging (Grace)")
    assert event.dedupe_key == "meeting.recording_ready:room-1:rec-1"


@pytest.mark.parametrize("case", ["wrong secret", "missing", "no timestamp", "stale", "future", "tampered",
                                  "not hex"])
def test_a_delivery_that_is_not_chalks_is_refused(case):
    adapter = ChalkWebhooks("s3cret")
    now = datetime.now(timezone.utc)
    stamp = int(now.timestamp())
    body = DELIVERY
    headers = signed("s3cret", body, stamp)
    if case == "wrong secret":
        headers = signed("other", body, stamp)
    elif case == "missing":
        headers = {}
    elif case == "no timestamp":
        del headers["X-Chalk-Timestamp"]
    elif case == "stale":
        headers = signed("s3cret", body, stamp - 301)
    elif case == "future":
        headers = signed("s3cret", body, stamp + 301)
    elif case == "tampered":
        body = body.replace(b"Thursday", b"Friday")
    elif case == "not hex":
        headers["X-Chalk-Signature"] = "sha256=zz" + headers["X-Chalk-Signature"][9:]
    assert not adapter.verify(headers, body, now)


def test_a_replayed_delivery_is_refused():
    adapter = ChalkWebhooks("s3cret")
    now = datetime.now(timezone.utc)
    headers = signed("s3cret", DELIVERY, int(now.timestamp()))
    assert adapter.verify(headers, DELIVERY, now)
    assert not adapter.verify(headers, DELIVERY, now + timedelta(seconds=5))


def test_garbage_with_a_bad_signature_is_never_parsed():
    adapter = ChalkWebhooks("s3cret")
    now = datetime.now(timezone.utc)
    assert not adapter.verify(signed("x", b"{" * 100_000, int(now.timestamp())), b"{" * 100_000, now)


async def test_the_emulator_delivers_a_signed_recording_with_its_summary(chalk, control):
    received: list[tuple[dict, bytes]] = []

    async def hook(request):
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    receiver = BackgroundServer(Starlette(routes=[Route("/webhooks/chalk", hook, methods=["POST"])]))
    receiver.start()
    try:
        registration = await chalk.register_webhook(receiver.url + "/webhooks/chalk")
        assert registration.secret
        room = await chalk.create_room(spec("Recorded"), idempotency_key="k")
        await chalk.issue_join(room, ADA, lifetime=HOUR)
        (await control.post(f"/rooms/{room.id}/recording")).raise_for_status()
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
    finally:
        receiver.stop()
    [(headers, body)] = received
    adapter = chalk.webhook_adapter()
    assert adapter.verify(headers, body, datetime.now(timezone.utc))
    *meeting, event = adapter.parse(body)
    assert [e.kind for e in meeting] == [EventKind.SESSION_STARTED]  # the room is still running
    assert event.kind == EventKind.RECORDING_READY
    assert event.room_id == room.id and event.summary and len(event.action_items) == 2
    assert event.recording_url and event.recording_url.startswith("http")
    assert await chalk.recording_link(event.recording_id)


async def test_deleting_the_webhook_turns_the_tenants_one_off_and_listing_says_why_it_cannot(chalk, world):
    from bot.errors import MeetopsError, ProviderNotFound

    registration = await chalk.register_webhook("https://bot.example.com/webhooks/chalk")
    assert world.webhook.enabled and world.webhook.url == "https://bot.example.com/webhooks/chalk"
    with pytest.raises(ProviderNotFound, match=registration.id):  # the id to give is the tenant's
        await chalk.delete_webhook("not-the-tenant")
    await chalk.delete_webhook(registration.id)
    assert not world.webhook.enabled
    with pytest.raises(MeetopsError, match="one post-meeting webhook per tenant"):
        await chalk.list_webhooks()


async def test_the_summary_verb_says_chalk_has_none_of_its_own(chalk, control):
    room = await chalk.create_room(spec("No summary"), idempotency_key="k")
    answer = await control.post(f"/rooms/{room.id}/summary")
    assert answer.status_code == 422 and "recording" in answer.json()["message"]


async def test_a_summary_is_read_from_the_rooms_latest_recording(chalk, control):
    from bot.providers.base import SummaryStatus

    room = await chalk.create_room(spec("Summarised"), idempotency_key="k")
    # Nothing recorded yet: the summary comes with the recording (its webhook), so not a "none".
    assert (await chalk.get_summary(room.id)).status == SummaryStatus.IN_PROGRESS
    await chalk.issue_join(room, ADA, lifetime=HOUR)
    await chalk.start_recording(room)
    await chalk.stop_recording(room)
    assert (await chalk.get_summary(room.id)).status == SummaryStatus.IN_PROGRESS  # still being processed
    await chalk.register_webhook("http://127.0.0.1:9/unused")  # the emulator needs somewhere to deliver
    (await control.post(f"/rooms/{room.id}/recording")).raise_for_status()
    summary = await chalk.get_summary(room.id)
    assert summary.status == SummaryStatus.READY
    assert "ship on Thursday" in summary.text and "• Ada writes the release notes" in summary.text
