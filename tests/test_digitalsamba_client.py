"""The Digital Samba client's behaviour on the wire: auth, retries, error wording, pagination, join links."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import jwt
import pytest

from bot.errors import ProviderAuthError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from bot.providers.base import Person, Role, Room, RoomSpec, SummaryStatus
from bot.providers.digitalsamba.client import DigitalSambaClient, build_http as build_http_client

KEY = "dev-key-0123456789-0123456789-0123456789"
TEAM = "team-uuid"
A_ROOM = Room(id="r-1", friendly_url="standup", description=None, privacy="public", room_url="https://x.test/s")
ROOM = {"id": "r-1", "friendly_url": "standup", "description": "Standup", "privacy": "public",
        "room_url": "https://team.digitalsamba.com/standup"}


def client_for(handler, **kw) -> tuple[DigitalSambaClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request, len(seen))

    http = build_http_client("https://ds.test/api/v1", KEY, timeout=kw.pop("timeout", 1.0),
                             transport=httpx.MockTransport(record))
    return DigitalSambaClient(http, team_id=TEAM, developer_key=KEY, **kw), seen


async def test_requests_carry_bearer_auth_and_base_path():
    client, seen = client_for(lambda req, n: httpx.Response(200, json=ROOM))
    room = await client.get_room("standup")
    assert room.friendly_url == "standup"
    assert seen[0].url == "https://ds.test/api/v1/rooms/standup"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_rate_limit_waits_for_retry_after_then_succeeds():
    def handler(req, n):
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": "0.3"}, json={"message": "Too Many Attempts."})
        return httpx.Response(200, json=ROOM)

    client, seen = client_for(handler)
    started = time.monotonic()
    await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    assert len(seen) == 2, "a 429 was refused unprocessed, so even a POST is sent again"
    assert time.monotonic() - started >= 0.3


async def test_rate_limit_that_persists_is_reported_with_the_wait():
    client, seen = client_for(lambda req, n: httpx.Response(429, headers={"Retry-After": "120"}, json={}))
    with pytest.raises(ProviderRateLimited) as info:
        await client.get_room("standup")
    assert len(seen) == 1, "a wait longer than we are willing to sleep is reported, not slept through"
    assert "120 s" in info.value.user_message


async def test_get_retries_server_errors_with_backoff():
    # A deadline the two backoffs fit in: they come to 0.6-1.0 s with their jitter, so a 1 s one failed about
    # one run in four.
    client, seen = client_for(lambda req, n: httpx.Response(500 if n < 3 else 200, json=ROOM), timeout=3.0)
    room = await client.get_room("standup")
    assert room.id == "r-1" and len(seen) == 3


async def test_server_errors_that_outlast_the_deadline_are_said_as_server_errors():
    # The backoff before a third try would end past the 0.5 s deadline: the person hears what went wrong
    # (the server's error), within the deadline, not that the provider is "not answering".
    client, seen = client_for(lambda req, n: httpx.Response(502, json={"message": "Bad Gateway"}), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as info:
        await client.get_room("standup")
    assert time.monotonic() - started < 0.5
    assert "internal error (HTTP 502)" in info.value.user_message and "not answering" not in info.value.user_message
    assert 1 <= len(seen) < 3


async def test_a_retry_after_beyond_the_deadline_is_reported_at_once_with_the_wait():
    client, seen = client_for(lambda req, n: httpx.Response(429, headers={"Retry-After": "5"}, json={}), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderRateLimited) as info:
        await client.get_room("standup")
    assert time.monotonic() - started < 1.0, "not slept through past the deadline the person was promised"
    assert len(seen) == 1 and "try again in 5 s" in info.value.user_message


async def test_post_is_never_repeated_after_a_server_error():
    client, seen = client_for(lambda req, n: httpx.Response(500, json={"message": "Server Error"}))
    with pytest.raises(ProviderUnavailable) as info:
        await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    assert len(seen) == 1, "the room may have been created: a second POST could make two"
    assert "internal error" in info.value.user_message


async def test_post_is_retried_when_the_connection_was_never_made():
    def handler(req, n):
        if n == 1:
            raise httpx.ConnectError("refused", request=req)
        return httpx.Response(200, json=ROOM)

    client, seen = client_for(handler)
    await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    assert len(seen) == 2


async def test_post_timeout_is_not_repeated_and_says_so():
    def handler(req, n):
        raise httpx.ReadTimeout("slow", request=req)

    client, seen = client_for(handler)
    with pytest.raises(ProviderUnavailable) as info:
        await client.end_session(A_ROOM, "s-1")
    assert len(seen) == 1
    assert "not answering" in info.value.user_message


async def test_auth_failure_names_the_setting_but_never_the_key():
    client, _ = client_for(lambda req, n: httpx.Response(401, json={"message": "Unauthenticated."}))
    with pytest.raises(ProviderAuthError) as info:
        await client.get_room("standup")
    assert "DS_DEVELOPER_KEY" in info.value.user_message
    assert KEY not in str(info.value) and KEY not in repr(client) and KEY not in repr(client._http.auth)


async def test_validation_errors_are_passed_on_in_words():
    body = {"message": "The given data was invalid.",
            "errors": {"friendly_url": ["The friendly url has already been taken."]}}
    client, _ = client_for(lambda req, n: httpx.Response(422, json=body))
    with pytest.raises(ProviderRejected) as info:
        await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    assert info.value.user_message == "Digital Samba said no: The link name is already taken."
    assert "friendly_url" in info.value.errors, "the client still tells a taken name from other refusals"


async def test_lists_are_read_page_by_page_until_total_count():
    rooms = [dict(ROOM, id=f"r-{i}", friendly_url=f"room-{i}") for i in range(230)]

    def handler(req, n):
        offset, limit = int(req.url.params["offset"]), int(req.url.params["limit"])
        # total_count arrives as a string in the real API's examples
        return httpx.Response(200, json={"total_count": str(len(rooms)), "data": rooms[offset:offset + limit]})

    client, seen = client_for(handler)
    got = [r.friendly_url async for r in client.iter_rooms()]
    assert len(got) == 230 and got[-1] == "room-229"
    assert [int(r.url.params["offset"]) for r in seen] == [0, 100, 200]
    assert {r.url.params["limit"] for r in seen} == {"100"}


async def test_summary_without_transcript_is_its_own_status():
    client, _ = client_for(lambda req, n: httpx.Response(404, json={"message": "No transcript."}))
    assert (await client.get_summary("s-1")).status is SummaryStatus.NO_TRANSCRIPT


async def test_join_link_is_signed_locally_with_the_documented_claims():
    client, seen = client_for(lambda req, n: httpx.Response(500))
    room = Room(id="r-1", friendly_url="standup", description=None, privacy="private",
                room_url="https://team.digitalsamba.com/standup")
    grant = await client.issue_join(room, Person("U1", "T1:U1", Role.MODERATOR, name="Ada"),
                                    lifetime=timedelta(hours=4))
    link = grant.url
    assert grant.identity_bound
    assert not seen, "no API round trip"
    assert link.startswith("https://team.digitalsamba.com/standup?token=")
    claims = jwt.decode(link.split("token=")[1], KEY, algorithms=["HS256"])
    assert claims["td"] == TEAM and claims["rd"] == "r-1" and claims["ud"] == "T1:U1"
    assert claims["u"] == "Ada" and claims["role"] == "moderator"
    assert "avatar" not in claims, "claims without a value are left out, not sent as null"
    assert claims["exp"] - claims["iat"] == 4 * 3600 and claims["nbf"] == claims["iat"]


async def test_poll_results_add_up_sessions_and_keep_voters():
    body = [{"question": "Lunch?", "options": [
        {"id": "o1", "text": "Pizza", "voted": 2, "voters": [{"name": "ada"}, {"name": "grace"}]},
        {"id": "o2", "text": "Sushi", "voted": 1, "voters": [{"name": "linus"}]}]},
        {"question": "Lunch?", "options": [{"id": "o1", "text": "Pizza", "voted": 1, "voters": [{"name": "alan"}]}]}]
    client, _ = client_for(lambda req, n: httpx.Response(200, content=json.dumps(body)))
    results = await client.poll_results(A_ROOM, "p-1")
    assert results.total_votes == 4
    assert [(o.text, o.votes) for o in results.options] == [("Pizza", 3), ("Sushi", 1)]
    assert results.options[0].voters == ("ada", "grace", "alan")


async def test_real_transport_refused_connection_is_retried_then_reported():
    from bot.devtools.serving import free_port

    # As above: a deadline both backoffs fit in, so the third attempt is made and its refusal is what is said.
    http = build_http_client(f"http://127.0.0.1:{free_port()}/api/v1", KEY, timeout=3.0)
    client = DigitalSambaClient(http, team_id=TEAM, developer_key=KEY)
    with pytest.raises(ProviderUnavailable, match="can't reach"):
        await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    await client.aclose()


async def test_real_transport_connection_dropped_mid_post_is_not_repeated():
    import asyncio

    attempts = 0

    async def hang_up(reader, writer):
        nonlocal attempts
        attempts += 1
        await reader.read(1024)  # the request arrived: the room may be created
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = DigitalSambaClient(build_http_client(f"http://127.0.0.1:{port}/api/v1", KEY, timeout=1.0),
                                team_id=TEAM, developer_key=KEY)
    with pytest.raises(ProviderUnavailable):
        await client.create_room(RoomSpec(name="Standup", slug="standup", description="Standup", private=False, external_id="x"))
    assert attempts == 1
    await client.aclose()
    server.close()


async def test_one_deadline_for_the_whole_action_whatever_the_retries():
    """Issue 7: a hanging provider answered a read after 3 tries x the timeout while the message said the timeout."""
    import time

    from bot.sandbox import start_sandbox

    with start_sandbox() as sandbox:
        sandbox.state.faults.latency_ms = 5000
        http = build_http_client(sandbox.api_url, sandbox.state.developer_key, timeout=1.0)
        client = DigitalSambaClient(http, team_id=TEAM, developer_key=sandbox.state.developer_key)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as info:
            async for _ in client.iter_live_rooms():
                pass
        elapsed = time.monotonic() - started
        await client.aclose()
    assert elapsed < 2.0, f"one deadline of 1 s for the action, not one per try ({elapsed:.1f} s)"
    assert "within 1 s" in info.value.user_message
