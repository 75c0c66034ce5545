"""Eyeson's webhook deliveries: verified by HMAC-SHA256 of the raw body keyed with the API key (constant
time, before parsing), then read into neutral events with dedupe keys; and the emulator signs its own
deliveries the same way."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.devtools.serving import BackgroundServer
from bot.providers import registry
from bot.providers.base import EventKind, Person, Role, RoomSpec
from bot.providers.eyeson.webhooks import EyesonWebhooks
from bot.sandbox.eyeson import start_emulator

KEY = "test-api-key-0123456789"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
STARTED = "2026-12-01T11:00:00Z"


def sign(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def room_update(shutdown: bool, room_id: str = "meetops-abc-standup") -> bytes:
    return json.dumps({"timestamp": 1796130000, "type": "room_update",
                       "room": {"id": room_id, "name": "Standup", "ready": True, "started_at": STARTED,
                                "shutdown": shutdown, "guest_token": None}}).encode()


def recording_update(download: str | None, duration: int | None) -> bytes:
    return json.dumps({"timestamp": 1796130100, "type": "recording_update",
                       "recording": {"id": "64f0c0ffee0000000000beef", "created_at": 1796129000,
                                     "duration": duration, "links": {"self": "x", "download": download},
                                     "user": {"id": "u"},
                                     "room": {"id": "meetops-abc-standup", "started_at": STARTED}}}).encode()


adapter = EyesonWebhooks(KEY)


# -- verification --------------------------------------------------------------------------------


def test_the_right_signature_verifies():
    body = room_update(False)
    assert adapter.verify({"x-eyeson-signature": sign(body)}, body, NOW)
    assert adapter.verify({"X-Eyeson-Signature": sign(body).upper()}, body, NOW)  # any header case, hex case


@pytest.mark.parametrize("headers", [
    {},                                                        # missing
    {"x-eyeson-signature": ""},                                # empty
    {"x-eyeson-signature": "0" * 64},                          # wrong
    {"x-eyeson-signature": "sha256=" + sign(room_update(False))},  # not Eyeson's form
    {"x-eyeson-signature": sign(room_update(False), "another-key")},  # signed with another key
    {"authorization": KEY},                                    # a shared token is not how Eyeson signs
])
def test_a_wrong_or_missing_signature_is_refused(headers):
    assert not adapter.verify(headers, room_update(False), NOW)


def test_a_tampered_body_is_refused():
    body = room_update(False)
    tampered = body.replace(b'"shutdown": false', b'"shutdown": true')
    assert tampered != body
    assert not adapter.verify({"x-eyeson-signature": sign(body)}, tampered, NOW)


def test_verify_does_not_parse_the_body():
    # Garbage with a wrong signature is refused without an error; with the right one it verifies (the
    # signature is over bytes), and only parse() then refuses it.
    garbage = b"\xff{{{ not json" + b"[" * 10000
    assert not adapter.verify({"x-eyeson-signature": "00"}, garbage, NOW)
    assert adapter.verify({"x-eyeson-signature": sign(garbage)}, garbage, NOW)
    with pytest.raises(ValueError):
        adapter.parse(garbage)


def test_without_an_api_key_no_delivery_is_taken():
    plugin = registry.load("eyeson")
    client = plugin.build(plugin.settings_model(_env_file=None, api_key="", api_url="http://127.0.0.1:9"))
    assert client.webhook_adapter() is None  # an empty HMAC key would let anyone sign


def test_the_adapter_never_shows_the_key():
    assert KEY not in repr(adapter)


# -- events ------------------------------------------------------------------------------------


def test_room_updates_start_and_end_one_session():
    [started] = adapter.parse(room_update(False))
    [ended] = adapter.parse(room_update(True))
    assert started.kind == EventKind.SESSION_STARTED and ended.kind == EventKind.SESSION_ENDED
    assert started.room_id == ended.room_id == "meetops-abc-standup"
    assert started.session_id == ended.session_id  # the same meeting run
    assert started.started_at == datetime(2026, 12, 1, 11, tzinfo=timezone.utc)
    assert ended.ended_at == datetime.fromtimestamp(1796130000, timezone.utc)
    assert started.dedupe_key != ended.dedupe_key
    # A replayed delivery (Eyeson signs no timestamp) has the same key, so it is handled once.
    assert adapter.parse(room_update(True))[0].dedupe_key == ended.dedupe_key


def test_only_a_finished_recording_is_ready_and_carries_no_expiring_link():
    assert adapter.parse(recording_update(None, None)) == []   # started
    assert adapter.parse(recording_update(None, 60)) == []     # stopped, not yet processed
    [ready] = adapter.parse(recording_update("https://files.example/r.webm?sig=1", 60))
    assert ready.kind == EventKind.RECORDING_READY and ready.recording_id == "64f0c0ffee0000000000beef"
    assert ready.room_id == "meetops-abc-standup" and ready.recording_url is None
    assert ready.dedupe_key == "recording_update:64f0c0ffee0000000000beef:ready"


@pytest.mark.parametrize("body", [
    b'{"type": "snapshot_update", "snapshot": {"id": "1"}}',  # a type meetops doesn't use
    b'{"type": "room_update"}',                                # nothing to say
])
def test_deliveries_meetops_does_not_use_are_no_events(body):
    assert adapter.parse(body) == []


@pytest.mark.parametrize("body", [b"[]", b'"x"', b'{"type": 1, "room": []}', b'{"room": {"id": "r"}}',
                                  b"[" * 100 + b"]" * 100])
def test_malformed_deliveries_are_refused(body):
    with pytest.raises(ValueError):
        adapter.parse(body)


# -- the emulator signs its deliveries the same way ---------------------------------------------------


@pytest.fixture
def receiver():
    got: list[tuple[dict, bytes]] = []

    async def hook(request: Request) -> Response:
        got.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    server = BackgroundServer(Starlette(routes=[Route("/webhooks/eyeson", hook, methods=["POST"])]))
    server.start()
    yield server, got
    server.stop()


async def wait_for(got: list, count: int) -> None:
    for _ in range(100):
        if len(got) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(got)} deliveries, wanted {count}")


async def test_emulator_deliveries_verify_and_tell_the_meeting_story(receiver):
    server, got = receiver
    plugin = registry.load("eyeson")
    emulator = start_emulator()
    client = plugin.build(plugin.settings_model(_env_file=None, **emulator.client_settings()))
    try:
        await client.register_webhook(server.url + "/webhooks/eyeson")
        room = await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup",
                                                 private=False, external_id="slack:T1:C1"), idempotency_key="k")
        ada = Person(slack_user_id="U1", external_id="T1:U1", role=Role.MODERATOR, name="Ada")
        await client.issue_join(room, ada, lifetime=timedelta(hours=1))
        async with httpx.AsyncClient(base_url=emulator.url + "/_sandbox") as control:
            (await control.post(f"/rooms/{room.id}/join", json={"name": "Ada"})).raise_for_status()
            await client.start_recording(room)
            (await control.post(f"/rooms/{room.id}/leave", json={"name": "Ada"})).raise_for_status()
        await wait_for(got, 5)  # started; recording started, stopped, finished; ended
        verifier = client.webhook_adapter()
        events = []
        for headers, body in got:
            assert verifier.verify(headers, body, datetime.now(timezone.utc))
            events += verifier.parse(body)
        assert [e.kind for e in events] == [EventKind.SESSION_STARTED, EventKind.RECORDING_READY,
                                            EventKind.SESSION_ENDED]
        assert {e.room_id for e in events} == {room.id}
        assert events[0].session_id == events[1].session_id == events[2].session_id
        link = await client.recording_link(events[1].recording_id)
        assert link.startswith(emulator.url)
    finally:
        await client.aclose()
        emulator.stop()
