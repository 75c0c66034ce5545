"""Slack's one URL, attacked: forged, oversized, replayed and malformed requests (issue 7, items 2 to 7).

Every request goes over real HTTP to the real app. A refusal must cause nothing: no Web API
call reaches the Slack double, no request reaches the provider emulator, and nothing is posted
to a response_url, not even one pointing at a listener the attacker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot import ids
from bot.boundary import reply_with_error
from bot.devtools.harness import SIGNING_SECRET, WEBHOOK_TOKEN
from bot.devtools.slack_user import sign
from bot.errors import BadInput
from bot.edge import ReplayCache, signature_problem
from tests.test_rooms import room_messages

FORM = "application/x-www-form-urlencoded"
STREAM_KEY = "live_sk_forged_0123456789abcdef"  # what a late or forged Go live submission could carry


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.exc_text or "Traceback" in r.getMessage()]


class Listener:
    """A TCP listener on loopback that records every connection: the attacker's response_url."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> "Listener":
        async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.received.append(await reader.read(65536))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        self._server = await asyncio.start_server(record, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/actions/T0001/steal"

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()


def outbound(harness) -> tuple[int, int]:
    """Calls the bot has made so far: (Web API calls and response_url posts, provider requests)."""
    return len(harness.double.calls) + len(harness.double.responses), len(harness.sandbox_state.requests)


def forged_click(ada, harness, response_url: str) -> bytes:
    """A Join click on a real room's button whose response_url points at the attacker."""
    payload = ada.click_payload([{"type": "actions", "block_id": ids.ROOM_ACTIONS_BLOCK, "elements": [
        {"type": "button", "action_id": ids.JOIN, "value": "no-such-room", "text": {"type": "plain_text",
                                                                                   "text": "Join"}}]}], ids.JOIN)
    payload["response_url"] = response_url
    payload["stream_key"] = STREAM_KEY
    return urlencode({"payload": json.dumps(payload)}).encode()


def forged_cases(body: bytes) -> list[tuple[str, list[tuple[bytes, bytes]]]]:
    """(name, headers) for every way the timestamp or signature can be wrong."""
    now = int(time.time())
    good = sign(SIGNING_SECRET, body, now)
    ts, sig = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]

    def h(timestamp: str | bytes | None, signature: str | bytes | None) -> list[tuple[bytes, bytes]]:
        out = []
        for name, value in (("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature)):
            if value is not None:
                out.append((name.encode(), value if isinstance(value, bytes) else value.encode()))
        return out

    return [
        ("timestamp abc", h("abc", sig)),
        ("timestamp empty", h("", sig)),
        ("timestamp 1e9", h("1e9", sig)),
        ("timestamp missing", h(None, sig)),
        ("timestamp huge", h("9" * 400, sig)),
        ("timestamp negative", h("-1", sig)),
        ("timestamp float", h(f"{now}.5", sig)),
        ("timestamp with a plus sign", h(f"+{now}", sig)),
        ("timestamp in Arabic digits", h("١٧٠٠٠٠٠٠٠٠".encode(), sig)),
        ("timestamp non-ASCII bytes", h(b"\xff\xfe", sig)),
        ("timestamp stale", h(str(now - 600), sign(SIGNING_SECRET, body, now - 600)["X-Slack-Signature"])),
        ("timestamp in the future", h(str(now + 600), sign(SIGNING_SECRET, body, now + 600)["X-Slack-Signature"])),
        # Within Bolt's 5 minutes but not the edge's: Bolt, checking moments later, must never be the one to refuse.
        ("timestamp 298 s old", h(str(now - 298), sign(SIGNING_SECRET, body, now - 298)["X-Slack-Signature"])),
        ("timestamp changed after signing", h(str(now - 1), sig)),
        ("signature missing", h(ts, None)),
        ("signature empty", h(ts, "")),
        ("signature zeros", h(ts, "v0=" + "0" * 64)),
        ("signature garbled", h(ts, "v0=zz" + sig[5:])),
        ("signature other version", h(ts, "v1=" + sig[3:])),
        ("signature upper-case", h(ts, "v0=" + sig[3:].upper())),
        ("signature truncated", h(ts, sig[:-2])),
        ("signature doubled", h(ts, sig + sig)),
        ("signature non-ASCII", h(ts, ("v0=" + "é" * 64).encode())),
        ("signature by another secret", h(ts, sign("not-the-secret", body, now)["X-Slack-Signature"])),
        ("signature for another body", h(ts, sign(SIGNING_SECRET, body + b"&x=1", now)["X-Slack-Signature"])),
        ("nothing at all", []),
    ]


async def test_forged_requests_get_401_and_cause_nothing_anywhere(harness, ada, caplog):
    """Item 2: however malformed the headers, 401; the response_url in the body is never called."""
    caplog.set_level(logging.DEBUG)
    async with Listener() as attacker, httpx.AsyncClient(timeout=10) as client:
        click = forged_click(ada, harness, attacker.url)
        command = urlencode({**ada.command_form("new forged-room"), "response_url": attacker.url,
                             "text": f"digest {STREAM_KEY}"}).encode()
        before = outbound(harness)
        answers = {}
        for body in (click, command):
            for name, headers in forged_cases(body):
                response = await client.post(harness.events_url, content=body,
                                             headers=[(b"content-type", FORM.encode()), *headers])
                answers[f"{name} ({body[:8].decode()})"] = response.status_code
        # A forged JSON body too (Events API's url_verification would echo its challenge).
        challenge = json.dumps({"type": "url_verification", "challenge": STREAM_KEY}).encode()
        response = await client.post(harness.events_url, content=challenge, headers={
            "content-type": "application/json", **sign("wrong", challenge)})
        answers["url_verification"] = response.status_code
        assert STREAM_KEY not in response.text
        await asyncio.sleep(0.5)  # anything the bot would do after answering has time to happen
    assert len(answers) == 2 * 26 + 1
    assert {name: status for name, status in answers.items() if status != 401} == {}
    assert outbound(harness) == before, "no Web API call, no response_url post, no provider request"
    assert attacker.received == [], "the attacker's response_url was never called"
    assert harness.services.db["rooms"].count == 0
    # Item 3: a refusal logs one line with the reason and the size, nothing from the body.
    assert STREAM_KEY not in caplog.text and "forged-room" not in caplog.text
    refusals = [r for r in caplog.records if "refused a request to /slack/events" in r.getMessage()]
    assert len(refusals) == len(answers) and all("\n" not in r.getMessage() for r in refusals)
    assert not tracebacks(caplog)


async def test_a_validly_signed_request_still_works_after_forged_ones(harness, ada):
    async with httpx.AsyncClient() as client:
        await client.post(harness.events_url, content=b"x", headers={"X-Slack-Request-Timestamp": "abc"})
    await ada.acommand("new standup")
    assert (await harness.double.wait_for(lambda: room_messages(harness)))[0].blocks[0]["text"]["text"] == "standup"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_bodies_get_413_and_only_their_size_is_logged(harness, ada, caplog, chunked):
    """Item 3: an 8 MB body is refused before it is read whole; the log gets one short line."""
    caplog.set_level(logging.DEBUG)
    body = urlencode({**ada.command_form("new big"), "text": STREAM_KEY * (8_000_000 // len(STREAM_KEY))}).encode()
    assert len(body) > 8_000_000
    headers = {"content-type": FORM, **ada.sign(body)}  # correctly signed, even: size is checked first

    async def stream():
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    before = outbound(harness)
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            response = await client.post(harness.events_url, content=stream() if chunked else body, headers=headers)
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            pytest.fail("the server should answer 413, not drop the connection")
    assert response.status_code == 413
    assert outbound(harness) == before and harness.services.db["rooms"].count == 0
    assert STREAM_KEY not in caplog.text
    assert max(len(r.getMessage()) for r in caplog.records) < 300
    assert any("413" in r.getMessage() for r in caplog.records)


async def test_a_body_just_under_the_limit_is_read_and_checked(harness, ada):
    body = urlencode({**ada.command_form("help"), "filler": "x" * 1_000_000}).encode()
    assert 1_000_000 < len(body) < 1024 * 1024
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(harness.events_url, content=body, headers={"content-type": FORM,
                                                                                **ada.sign(body)})
    assert response.status_code == 200


async def test_a_replayed_request_is_processed_once(harness, ada, caplog):
    """Item 4: the same signed `/meet new` sent twice within the 5 minutes makes one room."""
    caplog.set_level(logging.INFO)
    body = urlencode(ada.command_form("new standup")).encode()
    headers = {"content-type": FORM, **ada.sign(body)}
    async with httpx.AsyncClient() as client:
        first = await client.post(harness.events_url, content=body, headers=headers)
        await harness.double.wait_for(lambda: room_messages(harness))
        replayed = await asyncio.gather(*(client.post(harness.events_url, content=body, headers=headers)
                                          for _ in range(3)))
    await harness.double.wait_idle()
    assert first.status_code == 200 and [r.status_code for r in replayed] == [200, 200, 200]
    assert len(harness.sandbox_state.rooms) == 1 and len(room_messages(harness)) == 1
    assert not harness.sandbox_state.requests_matching("POST", "/api/v1/rooms")[1:]
    assert len([r for r in caplog.records if "replayed" in r.getMessage()]) == 3
    # A new request (new timestamp or body) is not a replay.
    await ada.acommand("new standup-2")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)


def test_the_replay_cache_forgets_what_left_the_window_and_stays_bounded():
    cache = ReplayCache(window=300, max_entries=100)
    assert cache.first_time("a", 1000, now=1000) and not cache.first_time("a", 1000, now=1200)
    assert cache.first_time("a", 1000, now=1302), "expired: the timestamp check refuses it by then anyway"
    for n in range(1000):
        cache.first_time(f"s{n}", 2000, now=2000)
    assert len(cache) <= 101


def test_signature_checks_never_raise_on_any_header():
    body = b"text=x"
    for ts in (None, "", "abc", "1e9", "9" * 5000, "١٢٣", "\x00", "-5", "+5", "0x10", "1_000"):
        for sig in (None, "", "v0=", "v0=" + "g" * 64, "é", "v0=" + "0" * 64):
            assert signature_problem(SIGNING_SECRET.encode(), ts, sig, body, time.time())
    now = int(time.time())
    good = sign(SIGNING_SECRET, body, now)
    assert signature_problem(SIGNING_SECRET.encode(), str(now), good["X-Slack-Signature"], body, now) is None


# -- item 5: malformed signed payloads -------------------------------------------------------


def _click(ada, **changes):
    payload = ada.click_payload([{"type": "actions", "block_id": ids.ROOM_ACTIONS_BLOCK, "elements": [
        {"type": "button", "action_id": ids.JOIN, "value": "room-1", "text": {"type": "plain_text", "text": "J"}}]}],
        ids.JOIN)
    payload.update(changes)
    return payload


def _with_action(ada, **action):
    payload = _click(ada)
    payload["actions"][0].update(action)
    return payload


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def malformed(ada) -> list[tuple[str, str | bytes, int]]:
    """(name, form body or raw payload text, expected status)."""
    submission = {"type": "view_submission", "user": {"id": "U0001"}, "team": {"id": "T0001"},
                  "view": {"callback_id": ids.POLL_MODAL, "private_metadata": "{}", "state": {"values": {}}}}

    def view(**changes):
        return {**submission, "view": {**submission["view"], **changes}}

    cases = [
        ("payload={not json", "{not json", 400),
        ("payload empty", "", 400),
        ("payload a list", "[]", 400),
        ("payload null", "null", 400),
        ("payload nested 100,000 deep", _deep(100_000), 400),
        ("payload with a deep field", json.dumps(_click(ada, extra="X")).replace('"X"', _deep(5000)), 400),
        ("actions empty", json.dumps(_click(ada, actions=[])), 400),
        ("actions not a list", json.dumps(_click(ada, actions={"0": 1})), 400),
        ("join value a number", json.dumps(_with_action(ada, value=5)), 400),
        ("join value an object", json.dumps(_with_action(ada, value={"id": "room-1"})), 400),
        ("join value missing", json.dumps(_with_action(ada, value=None)), 400),
        ("action_id a number", json.dumps(_with_action(ada, action_id=7)), 400),
        ("user a string", json.dumps(_click(ada, user="U2")), 400),
        ("user without id", json.dumps(_click(ada, user={"name": "x"})), 400),
        ("user id a number", json.dumps(_click(ada, user={"id": 2})), 400),
        ("team a list", json.dumps(_click(ada, team=["T0001"])), 400),
        ("channel id null", json.dumps(_click(ada, channel={"id": None})), 400),
        ("type a number", json.dumps(_click(ada, type=7)), 400),
        ("no type", json.dumps({"user": {"id": "U1"}}), 400),
        ("submission without view", json.dumps({**submission, "view": None}), 400),
        ("submission state not a dict", json.dumps(view(state={"values": []})), 400),
        ("submission option without value", json.dumps(view(state={"values": {"b": {"a": {
            "type": "static_select", "selected_option": {"text": "x"}}}}})), 400),
        ("submission text a number", json.dumps(view(state={"values": {"b": {"a": {
            "type": "plain_text_input", "value": 12}}}})), 400),
        ("submission metadata not JSON", json.dumps(view(private_metadata="[[[")), 400),
        ("submission metadata room an object", json.dumps(view(private_metadata='{"room": {"id": 1}}')), 400),
        ("unknown payload type", json.dumps({**_click(ada), "type": "message_action"}), 200),
        ("view_closed", json.dumps({"type": "view_closed", "user": {"id": "U0001"}}), 200),
    ]
    form_cases = [
        ("command without user_id", urlencode({k: v for k, v in ada.command_form("rooms").items()
                                                if k != "user_id"}), 400),
        ("command with a repeated field", urlencode(ada.command_form("rooms")) + "&user_id=U0002", 400),
        ("form with neither command nor payload", "a=1&b=2", 400),
        ("form with too many fields", "&".join(f"f{n}=1" for n in range(500)), 400),
        ("body not UTF-8", b"payload=\xff\xfe", 400),
    ]
    return [(n, urlencode({"payload": p}), s) for n, p, s in cases] + form_cases


async def test_malformed_signed_payloads_get_400_and_one_log_line(harness, ada, caplog):
    """Item 5: nothing reaches a handler unvalidated; each refusal is one line, never a traceback."""
    caplog.set_level(logging.DEBUG)
    cases = malformed(ada)
    before = outbound(harness)
    async with httpx.AsyncClient(timeout=10) as client:
        for name, body, expected in cases:
            raw = body if isinstance(body, bytes) else body.encode()
            caplog.clear()
            response = await client.post(harness.events_url, content=raw,
                                         headers={"content-type": FORM, **ada.sign(raw)})
            assert response.status_code == expected, name
            lines = [r for r in caplog.records if r.name.startswith(("bot.", "commands.", "meetops"))]
            assert len(lines) == 1 and "\n" not in lines[0].getMessage(), (name, [r.getMessage() for r in lines])
            assert not tracebacks(caplog), name
    await harness.double.wait_idle()
    assert outbound(harness) == before, "no reply, no lookup: the request never reached a handler"


async def test_refusals_name_the_field_never_its_value(harness, ada, caplog):
    caplog.set_level(logging.INFO)
    raw = urlencode({"payload": json.dumps(_with_action(ada, value={"key": STREAM_KEY}))}).encode()
    async with httpx.AsyncClient() as client:
        response = await client.post(harness.events_url, content=raw, headers={"content-type": FORM,
                                                                              **ada.sign(raw)})
    assert response.status_code == 400
    assert "actions.0.value" in caplog.text and STREAM_KEY not in caplog.text


async def test_a_command_whose_text_says_payload_is_still_a_command(harness, ada):
    """Bolt alone reads any form containing "payload" as an interaction; the edge hands it the command."""
    response = await ada.acommand("new payload")
    assert response.status_code == 200
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    assert message.blocks[0]["text"]["text"] == "payload"


async def test_the_error_boundary_survives_any_body_shape(harness):
    """Item 5: the boundary itself never crashes; whoever can be named gets a reply."""
    for body in ({"user": "U2"}, {"user": ["U2"]}, {"user": {"id": 5}}, {"user_id": None}, [], "text", None, 7,
                 {"view": "x"}, {"view": {"private_metadata": _deep(100_000)}}, {"channel": "C1", "user": {}}):
        await reply_with_error(harness.services, BadInput("Nope."), body, None)
    assert not harness.double.calls_to("chat.postEphemeral")
    await reply_with_error(harness.services, BadInput("Nope."),
                           {"user": {"id": "U0001"}, "view": {"private_metadata": '{"channel": "C0001"}'}}, None)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert reply.text == ":warning: Nope." and reply.channel == "C0001"


# -- item 6: bounded JSON; item 7: echoes cut ------------------------------------------------


async def test_a_webhook_nested_100000_deep_gets_400_not_500(harness, caplog):
    async with httpx.AsyncClient(base_url=harness.url) as client:
        deep = await client.post("/webhooks/digitalsamba", content=b'{"event":' * 100_000,
                                 headers={"Authorization": WEBHOOK_TOKEN, "content-type": "application/json"})
        deep_list = await client.post("/webhooks/digitalsamba", content=_deep(100_000).encode(),
                                      headers={"Authorization": WEBHOOK_TOKEN})
        ok = await client.post("/webhooks/digitalsamba", json={"event": "nothing_we_know"},
                               headers={"Authorization": WEBHOOK_TOKEN})
    assert (deep.status_code, deep_list.status_code, ok.status_code) == (400, 400, 200)
    assert not tracebacks(caplog)


async def test_a_40000_character_digest_argument_is_not_echoed_back(harness, ada):
    word = "x" * 39_990 + "<!here>"
    await ada.acommand(f"digest {word}")
    await ada.acommand(f"digest daily {word}")
    await ada.acommand(f"digest weekly {word} 09:00")
    await ada.acommand(f"digest daily 09:00 {word}")
    replies = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) == 4
                                            and harness.double.ephemerals("U0001"))
    for reply in replies:
        assert len(reply.text) < 400, reply.text[:100]
        assert "x" * 40 + "…" in reply.text and "<!here>" not in reply.text


async def test_a_40000_character_poll_flag_is_not_echoed_back(harness, ada):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand('poll standup "Lunch?" "Pizza" "Sushi" --' + "x" * 40_000)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "I don't know" in reply.text and len(reply.text) < 400
