"""The bot's OpenTalk sign-in against the emulator's OIDC issuer: refresh under load, revoked and expired
tokens, wrong credentials at start-up, and no secret in any log line."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from bot.config import ConfigError
from bot.providers.http import ProbeInconclusive
from bot.providers import registry


@pytest.fixture
def plugin():
    return registry.load("opentalk")


@pytest.fixture
def emulator(plugin):
    server = plugin.start_emulator()
    yield server
    server.stop()


def build(plugin, emulator, **overrides):
    return plugin.build(plugin.settings_model(_env_file=None, **{**emulator.client_settings(), **overrides}))


def oidc(emulator, **change) -> dict:
    response = httpx.put(emulator.url + "/_sandbox/oidc", json=change) if change else \
        httpx.get(emulator.url + "/_sandbox/oidc")
    response.raise_for_status()
    return response.json()


async def burst(client, n: int = 50) -> None:
    rooms = [client.get_room(room_id) for room_id in client.made for _ in range(n // len(client.made))]
    results = await asyncio.gather(*rooms)
    assert len(results) == n


@pytest.fixture
async def client(plugin, emulator):
    from bot.providers.base import RoomSpec

    client = build(plugin, emulator)
    client.made = []
    for n in range(5):
        room = await client.create_room(RoomSpec(f"Room {n}", f"room-{n}", "", False, "T:C"), idempotency_key=str(n))
        client.made.append(room.id)
    yield client
    await client.aclose()


async def test_a_revoked_token_mid_burst_is_refreshed_once(client, emulator):
    before = oidc(emulator)
    assert before["grants"] == {"password": 1, "refresh_token": 0}
    oidc(emulator, revoke=True)
    await burst(client, 50)
    after = oidc(emulator)
    assert after["grants"] == {"password": 1, "refresh_token": 1}  # one refresh, no storm
    assert client.tokens.refreshes == 1
    assert after["refused"] - before["refused"] <= 50  # each call was refused at most once, then retried


async def test_a_token_the_server_expired_early_is_refreshed_once(client, emulator):
    oidc(emulator, expire=True)
    await burst(client, 50)
    assert oidc(emulator)["grants"] == {"password": 1, "refresh_token": 1}


async def test_short_lived_tokens_are_renewed_before_they_expire(plugin, emulator):
    oidc(emulator, token_lifetime=3)
    client = build(plugin, emulator)
    try:
        await client.check()
        refused = oidc(emulator)["refused"]
        await asyncio.sleep(2.4)  # inside the last quarter of the token's life
        await asyncio.gather(*(client.check() for _ in range(50)))
        state = oidc(emulator)
        assert state["grants"]["password"] == 1
        # Renewed ahead, by one call for the whole burst (a second only if a loaded machine stretches the burst
        # past the new token's own renewal point): never one per call.
        assert 1 <= state["grants"]["refresh_token"] <= 2 and client.tokens.refreshes == state["grants"]["refresh_token"]
        assert state["refused"] == refused  # no call met an expired token
    finally:
        await client.aclose()


async def test_a_revoked_refresh_token_signs_in_again_once(client, emulator):
    oidc(emulator, revoke="all")
    await burst(client, 50)
    assert oidc(emulator)["grants"]["password"] == 2
    assert client.tokens.sign_ins == 2


@pytest.mark.parametrize("override, named", [
    ({"password": "wrong-password"}, "OPENTALK_USERNAME and OPENTALK_PASSWORD"),
    ({"username": "nobody"}, "OPENTALK_USERNAME and OPENTALK_PASSWORD"),
    ({"client_secret": "not-the-secret"}, "OPENTALK_CLIENT_ID and OPENTALK_CLIENT_SECRET"),
    ({"client_id": "someone-else"}, "OPENTALK_CLIENT_ID and OPENTALK_CLIENT_SECRET"),
])
async def test_wrong_oidc_credentials_at_start_up_name_the_setting(plugin, emulator, override, named):
    client = build(plugin, emulator, **override)
    try:
        with pytest.raises(ConfigError) as info:
            await client.check()
    finally:
        await client.aclose()
    text = str(info.value)
    assert text.startswith("OpenTalk's sign-in service refused") and named in text  # `serve` adds that it could not start
    for secret in (emulator.client_settings()["password"], emulator.client_settings()["client_secret"],
                   *override.values()):
        assert secret not in text or secret in ("nobody", "someone-else")


async def test_a_wrong_issuer_is_named(plugin, emulator):
    client = build(plugin, emulator, oidc_issuer=emulator.url + "/nowhere")
    try:
        with pytest.raises(ConfigError) as info:
            await client.check()
    finally:
        await client.aclose()
    assert "OPENTALK_OIDC_ISSUER" in str(info.value)


async def test_the_issuer_is_discovered_through_the_controller(plugin, emulator):
    client = build(plugin, emulator)
    try:
        await client.check()
    finally:
        await client.aclose()
    paths = [r["path"] for r in httpx.get(emulator.url + "/_sandbox/requests").json()]
    assert paths[:3] == ["/v1/auth/login", "/oidc/.well-known/openid-configuration", "/oidc/token"]


async def test_the_sign_in_service_down_is_said_in_words(plugin, emulator):
    httpx.put(emulator.url + "/_sandbox/faults", json={"status": 503, "paths": "/oidc/"}).raise_for_status()
    client = build(plugin, emulator)
    try:
        from bot.errors import ProviderUnavailable

        with pytest.raises(ProviderUnavailable) as info:
            await client.get_room("8f0e5d58-0000-4000-8000-000000000000")
    finally:
        await client.aclose()
    assert "sign-in service" in info.value.user_message and "{" not in info.value.user_message


async def test_no_token_or_password_reaches_a_log_line(client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    oidc(emulator, revoke=True)
    await burst(client, 10)
    settings = emulator.client_settings()
    token = client.tokens._oauth.token
    logged = caplog.text + repr(client.tokens) + repr(client)
    for secret in (settings["password"], settings["client_secret"], token["access_token"], token["refresh_token"]):
        assert secret not in logged
    # the emulator's own request log redacts them too
    log = httpx.get(emulator.url + "/_sandbox/requests").text
    assert settings["password"] not in log and settings["client_secret"] not in log


async def test_tokens_are_not_fetched_per_request(client, emulator):
    started = time.monotonic()
    await burst(client, 50)
    assert oidc(emulator)["grants"] == {"password": 1, "refresh_token": 0}
    assert time.monotonic() - started < 10


async def test_opentalk_down_at_start_up_is_said_at_start_up(plugin, emulator):
    """A 503 is OpenTalk's trouble, not a wrong setting: said, and `serve` starts anyway (tests/test_cli.py)."""
    httpx.put(emulator.url + "/_sandbox/faults", json={"status": 503}).raise_for_status()
    client = build(plugin, emulator)
    try:
        with pytest.raises(ProbeInconclusive) as info:
            await client.check()
    finally:
        await client.aclose()
    assert str(info.value).startswith("OpenTalk at ") and "answered HTTP 503 to the start-up check" in str(info.value)
