"""Eyeson on the wire: exact paths, form encoding, the raw API key, and every failure in words.

The client talks real HTTP to the Eyeson emulator on loopback; a recording transport under the client
keeps what actually went on the wire (after the access-key alias is swapped for the real key).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import parse_qsl

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from bot.config import ConfigError
from bot.errors import BadInput, ProviderGone, ProviderRejected, ProviderUnavailable
from bot.providers import registry
from bot.providers.base import Person, RestreamTarget, Role, RoomSpec
from bot.sandbox.eyeson import start_emulator

ADA = Person(slack_user_id="U0001", external_id="T1:U0001", role=Role.MODERATOR, name="Ada Lovelace",
             avatar="https://example.com/ada.png")


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests on over real HTTP and keeps (method, path, query, headers, form) of each."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.sent: list[dict] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.sent.append({"method": request.method, "path": request.url.path, "query": dict(request.url.params),
                          "headers": dict(request.headers), "form": dict(parse_qsl(body.decode()))})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def only(self, method: str, path: str) -> dict:
        found = [s for s in self.sent if s["method"] == method and s["path"] == path]
        assert len(found) == 1, (method, path, [(s["method"], s["path"]) for s in self.sent])
        return found[0]


@pytest.fixture
def emulator():
    server = start_emulator()
    yield server
    server.stop()


@pytest.fixture
def plugin():
    return registry.load("eyeson")


@pytest.fixture
def wire():
    return Recorder()


def make(plugin, emulator, wire, **overrides):
    settings = plugin.settings_model(_env_file=None, **{**emulator.client_settings(), **overrides})
    return plugin.build(settings, transport=wire)


@pytest.fixture
async def eyeson(plugin, emulator, wire):
    client = make(plugin, emulator, wire)
    yield client
    await client.aclose()


@pytest.fixture
async def control(emulator):
    async with httpx.AsyncClient(base_url=emulator.url + "/_sandbox", timeout=10) as client:
        yield client


def room_spec(name="Standup", *, private=False, options=frozenset()):
    return RoomSpec(name=name, slug=name.lower(), description=name, private=private,
                    external_id="slack:T1:C1", options=frozenset(options))


async def running_room(eyeson, control, **kw):
    """A room with a meeting running and Ada in it."""
    room = await eyeson.create_room(room_spec(**kw), idempotency_key="k")
    await eyeson.issue_join(room, ADA, lifetime=timedelta(hours=1))
    (await control.post(f"/rooms/{room.id}/join", json={"name": "Ada"})).raise_for_status()
    return room


def bot_key(emulator) -> str:
    return next(key for key, (_, user_id) in emulator.world.access_keys.items() if user_id == "meetops-bot")


# -- requests as Eyeson expects them --------------------------------------------------------------


async def test_join_posts_a_form_with_the_raw_api_key(eyeson, emulator, wire):
    room = await eyeson.create_room(room_spec("Standup"), idempotency_key="k")
    assert wire.sent == []  # creating a room calls nothing
    grant = await eyeson.issue_join(room, ADA, lifetime=timedelta(hours=1))
    sent = wire.only("POST", "/rooms")
    assert sent["headers"]["authorization"] == emulator.world.api_key  # the key itself, no "Bearer"
    assert not sent["headers"]["authorization"].lower().startswith("bearer")
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert sent["form"] == {"id": room.id, "name": "Standup", "user[id]": "T1:U0001", "user[name]": "Ada Lovelace",
                            "user[avatar]": "https://example.com/ada.png"}
    assert grant.url.startswith(emulator.url + "/app/?") and grant.expires_at is None and grant.identity_bound
    assert grant.note == "The link works as long as the meeting runs."


async def test_a_private_room_has_no_guest_link_and_flags_become_options(eyeson, emulator, wire):
    private = await eyeson.create_room(room_spec("Board", private=True, options={"no-recording"}), idempotency_key="k")
    await eyeson.issue_join(private, ADA, lifetime=timedelta(hours=1))
    form = wire.only("POST", "/rooms")["form"]
    assert form["options[guest_token_available]"] == "false"
    assert form["options[recording_available]"] == "false"
    assert emulator.world.meetings[private.id].guest_token is None
    public = await eyeson.create_room(room_spec("Lobby"), idempotency_key="k")
    await eyeson.issue_join(public, ADA, lifetime=timedelta(hours=1))
    assert not any(k.startswith("options[") for k in wire.sent[-1]["form"])


async def test_live_rooms_are_running_meetings_with_online_counts(eyeson, control, wire):
    room = await running_room(eyeson, control)
    (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
    wire.sent.clear()
    live = [r async for r in eyeson.iter_live_rooms()]
    assert [(r.room_id, r.participants) for r in live] == [(room.id, 2)]
    assert [(s["method"], s["path"], s["query"]) for s in wire.sent] == [
        ("GET", "/rooms", {}), ("GET", f"/rooms/{room.id}/users", {"online": "true"})]


async def test_end_deletes_the_meeting_by_room_id(eyeson, control, wire):
    room = await running_room(eyeson, control)
    await eyeson.end_session(room, None)
    wire.only("DELETE", f"/rooms/{room.id}")
    assert room.id not in [r.id async for r in eyeson.iter_rooms()]
    await eyeson.end_session(room, None)  # nothing running any more: nothing to end, no error


@pytest.mark.parametrize("target, expected", [
    (RestreamTarget(label="YouTube", stream_key="yt-1234", type="youtube"), "rtmp://a.rtmp.youtube.com/live2/yt-1234"),
    (RestreamTarget(label="Vimeo", stream_key="vm-1234", type="vimeo"), "rtmps://rtmp-global.cloud.vimeo.com:443/live/vm-1234"),
    (RestreamTarget(label="Cloudflare", stream_key="cf-1234", type="cloudflare"), "rtmps://live.cloudflare.com:443/live/cf-1234"),
    (RestreamTarget(label="rtmp://x", stream_key="c-1234", server_url="rtmp://live.example.com/app/"), "rtmp://live.example.com/app/c-1234"),
])
async def test_restream_posts_one_stream_url_with_the_bots_access_key(eyeson, control, emulator, wire, target, expected):
    room = await running_room(eyeson, control)
    wire.sent.clear()
    await eyeson.start_restream(room, target)
    bot = wire.only("POST", "/rooms")  # the bot joins the running meeting for an access key
    assert bot["form"]["user[id]"] == "meetops-bot" and bot["form"]["id"] == room.id
    key = bot_key(emulator)
    assert wire.only("POST", f"/rooms/{key}/broadcasts")["form"] == {"stream_url": expected}
    assert emulator.world.meetings[room.id].broadcast_url == expected
    await eyeson.stop_restream(room)
    wire.only("DELETE", f"/rooms/{key}/broadcasts")
    assert len([s for s in wire.sent if s["path"] == "/rooms" and s["method"] == "POST"]) == 1  # key reused


async def test_restream_needs_a_key_and_a_known_destination(eyeson, control):
    room = await running_room(eyeson, control)
    with pytest.raises(BadInput):
        await eyeson.start_restream(room, RestreamTarget(label="YouTube", stream_key="  ", type="youtube"))
    with pytest.raises(BadInput, match="custom RTMP"):
        await eyeson.start_restream(room, RestreamTarget(label="Twitch", stream_key="k-123456", type="twitch"))


async def test_recording_snapshot_and_fresh_links(eyeson, control, emulator, wire):
    room = await running_room(eyeson, control)
    await eyeson.start_recording(room)
    key = bot_key(emulator)
    wire.only("POST", f"/rooms/{key}/recording")
    await eyeson.stop_recording(room)
    wire.only("DELETE", f"/rooms/{key}/recording")
    [recording] = [r async for r in eyeson.iter_recordings(room)]
    first = await eyeson.recording_link(recording.id)
    wire.only("GET", f"/recordings/{recording.id}")
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(first)).status_code == 200
    link = await eyeson.snapshot(room)
    wire.only("POST", f"/rooms/{key}/snapshot")
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(link)).status_code == 200


async def test_webhook_registration_replaces_and_warns(eyeson, emulator, wire):
    first = await eyeson.register_webhook("https://bot.example.com/webhooks/eyeson")
    assert wire.only("POST", "/webhooks")["form"] == {"url": "https://bot.example.com/webhooks/eyeson",
                                                      "types": "room_update,recording_update"}
    assert "one webhook per API key" in first.note and first.secret is None
    second = await eyeson.register_webhook("https://other.example.com/webhooks/eyeson")
    hooks = await eyeson.list_webhooks()
    assert [h.url for h in hooks] == ["https://other.example.com/webhooks/eyeson"] and hooks[0].id == second.id
    await eyeson.delete_webhook(second.id)
    wire.only("DELETE", f"/webhooks/{second.id}")
    assert await eyeson.list_webhooks() == []


# -- start-up ------------------------------------------------------------------------------------


async def test_check_accepts_the_right_key(eyeson, wire):
    await eyeson.check()
    assert [(s["method"], s["path"]) for s in wire.sent] == [("GET", "/rooms")]


async def test_check_names_the_key_when_eyeson_refuses_it(plugin, emulator, wire):
    client = make(plugin, emulator, wire, api_key="not-the-key")
    with pytest.raises(ConfigError) as info:
        await client.check()
    await client.aclose()
    assert "EYESON_API_KEY" in str(info.value) and "not-the-key" not in str(info.value)


async def test_check_names_the_url_when_it_is_not_eyeson(plugin, emulator, wire):
    client = make(plugin, emulator, wire, api_url=emulator.url + "/nothing-here")
    with pytest.raises(ConfigError, match="EYESON_API_URL"):
        await client.check()
    await client.aclose()


# -- faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["start_restream", "stop_restream", "start_recording", "stop_recording"])
async def test_a_meeting_that_ended_answers_410_and_the_person_hears_it_is_over(eyeson, control, emulator, wire, action):
    room = await running_room(eyeson, control)
    await eyeson.start_recording(room)  # the bot holds an access key now
    key = bot_key(emulator)
    (await control.post(f"/rooms/{room.id}/end")).raise_for_status()  # everyone left meanwhile
    args = (RestreamTarget(label="YouTube", stream_key="yt-secret-1", type="youtube"),) if action == "start_restream" else ()
    with pytest.raises(ProviderGone) as info:
        await getattr(eyeson, action)(room, *args)
    assert any(s["path"].startswith(f"/rooms/{key}/") for s in wire.sent[-3:])  # it asked with the old key
    assert 410 in [r.status for r in emulator.world.requests]
    message = info.value.user_message
    assert "no meeting running" in message or "meeting is over" in message
    assert key not in message and "410" not in message
    assert emulator.world.meetings == {}  # asking started no new meeting


async def test_a_new_meeting_in_the_room_gets_a_new_bot_key_after_410(eyeson, control, emulator):
    room = await running_room(eyeson, control)
    await eyeson.start_recording(room)
    (await control.post(f"/rooms/{room.id}/end")).raise_for_status()
    (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()  # a new meeting
    await eyeson.start_recording(room)
    assert emulator.world.meetings[room.id].recording_id is not None


@pytest.mark.parametrize("feature, action, words", [
    ("recording", "start_recording", "Recording is disabled"),
    ("broadcast", "start_restream", "Streaming live is disabled"),
    ("snapshot", "snapshot", "Taking snapshots is disabled"),
])
async def test_a_disabled_feature_answers_405_in_words(eyeson, control, feature, action, words):
    room = await running_room(eyeson, control)
    (await control.put("/features", json={"disabled": [feature]})).raise_for_status()
    args = (RestreamTarget(label="YouTube", stream_key="yt-secret-2", type="youtube"),) if action == "start_restream" else ()
    with pytest.raises(ProviderRejected) as info:
        await getattr(eyeson, action)(room, *args)
    assert info.value.status == 405 and words in info.value.user_message
    assert "yt-secret-2" not in info.value.user_message


async def test_a_room_made_without_recording_refuses_it_in_words(eyeson, control):
    room = await running_room(eyeson, control, name="Quiet", options={"no-recording"})
    with pytest.raises(ProviderRejected, match="Recording is disabled"):
        await eyeson.start_recording(room)


async def test_join_while_eyeson_is_down_says_so_and_posts_once(eyeson, control, emulator):
    room = await eyeson.create_room(room_spec(), idempotency_key="k")
    (await control.put("/faults", json={"status": 503})).raise_for_status()
    with pytest.raises(ProviderUnavailable) as info:
        await eyeson.issue_join(room, ADA, lifetime=timedelta(hours=1))
    assert "Eyeson" in info.value.user_message and "try again" in info.value.user_message
    assert len(emulator.world.requests_matching("POST", "/rooms")) == 1  # a POST is never repeated blindly
    assert emulator.world.meetings == {}


async def test_join_while_eyeson_is_slow_says_so_within_the_deadline(plugin, emulator, wire, control):
    slow = make(plugin, emulator, wire, timeout_seconds=0.5)
    room = await slow.create_room(room_spec(), idempotency_key="k")
    (await control.put("/faults", json={"latency_ms": 3000})).raise_for_status()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as info:
        await slow.issue_join(room, ADA, lifetime=timedelta(hours=1))
    assert time.monotonic() - started < 2.5  # gave up at its deadline, long before Eyeson answered
    assert "not answering" in info.value.user_message and "0.5 s" in info.value.user_message
    assert len([s for s in wire.sent if s["method"] == "POST"]) == 1
    await slow.aclose()


async def test_reads_are_retried_through_brief_failures(eyeson, control, emulator):
    await eyeson.create_room(room_spec(), idempotency_key="k")
    (await control.put("/faults", json={"status": 503, "count": 2})).raise_for_status()
    assert [r async for r in eyeson.iter_rooms()] == []
    assert len(emulator.world.requests_matching("GET", "/rooms")) == 3


async def test_a_rate_limited_join_is_sent_again_after_retry_after(eyeson, control, emulator):
    room = await eyeson.create_room(room_spec(), idempotency_key="k")
    (await control.put("/faults", json={"status": 429, "count": 1, "retry_after": 0})).raise_for_status()
    grant = await eyeson.issue_join(room, ADA, lifetime=timedelta(hours=1))
    assert grant.url and len(emulator.world.requests_matching("POST", "/rooms")) == 2  # refused unprocessed


async def test_an_echoed_stream_key_is_scrubbed_from_the_error(eyeson, control):
    room = await running_room(eyeson, control)
    target = RestreamTarget(label="x", stream_key="live_SECRET_key_42", server_url="http://not-rtmp.example.com/app")
    with pytest.raises(ProviderRejected) as info:
        await eyeson.start_restream(room, target)
    assert "live_SECRET_key_42" not in info.value.user_message
    assert "not-rtmp.example.com" in info.value.user_message  # the rest of Eyeson's reason is kept


# -- secrets never reach a log line --------------------------------------------------------------


async def test_no_log_line_holds_the_api_key_an_access_key_or_a_stream_key(eyeson, control, emulator, caplog):
    for name in (None, "httpx", "httpcore", "aiohttp", "bot", "commands"):  # every logger, even ones set quieter
        caplog.set_level(logging.DEBUG, logger=name)
    stream_key = "sk-live-0123456789abcdef"
    room = await running_room(eyeson, control)
    await eyeson.check()
    await eyeson.start_restream(room, RestreamTarget(label="YouTube", stream_key=stream_key, type="youtube"))
    await eyeson.start_recording(room)
    await eyeson.snapshot(room)
    await eyeson.stop_recording(room)
    await eyeson.stop_restream(room)
    (await control.post(f"/rooms/{room.id}/end")).raise_for_status()
    with pytest.raises(ProviderGone):
        await eyeson.start_recording(room)
    secrets_ = [emulator.world.api_key, stream_key, *emulator.world.access_keys]
    assert len(secrets_) >= 4 and caplog.records
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "/broadcasts" in text  # the requests were logged, with the key's alias in their paths
    assert any(r.name == "httpx" and "/broadcasts" in r.getMessage() for r in caplog.records)  # httpx's own URL lines
    for secret in secrets_:
        assert secret not in text
    # Nor the emulator's request log, served to anyone on loopback.
    served = (await control.get("/requests")).text
    for secret in secrets_:
        assert secret not in served


async def test_each_snapshot_gets_its_own_link_past_the_first_page(eyeson, control, emulator):
    room = await running_room(eyeson, control)
    links = [await eyeson.snapshot(room) for _ in range(27)]  # Eyeson lists snapshots 25 to a page
    assert len(set(links)) == 27 and len(emulator.world.snapshots) == 27
    newest = max(emulator.world.snapshots.values(), key=lambda shot: shot.created_at)
    assert f"/snapshots/{newest.id}?" in links[-1]


async def test_a_meeting_that_ends_while_live_rooms_are_counted_is_left_out(eyeson, control):
    ended = await running_room(eyeson, control, name="Gone")
    still = await running_room(eyeson, control, name="Here")
    (await control.put("/faults", json={"status": 404, "count": 1, "paths": f"/rooms/{ended.id}/users"})).raise_for_status()
    live = [r.room_id async for r in eyeson.iter_live_rooms()]
    assert live == [still.id]
