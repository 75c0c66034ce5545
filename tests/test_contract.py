"""Every request the Digital Samba client can send, checked against Digital Samba's own OpenAPI spec.

The spec is machine-generated and has known defects (see ../shared/README.md):
response codes load as ints, poll `options` is typed `object`, and POST /rooms
claims `privacy`, `roles` and `private_group_chat_roles` are required although
the audited reference says every field is optional. So besides path, method,
query and body field names, this checks the rules written in field
descriptions ("Must be at least 5 characters", "Must be in [...]").
"""

from __future__ import annotations

import inspect
import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from bot.providers.base import Person, PollType, RestreamTarget, Role, Room, RoomSpec
from bot.providers.digitalsamba.client import DigitalSambaClient, build_http as build_http_client

SPEC_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "contracts" / "digitalsamba-openapi.yaml"
BASE = "https://ds.test/api/v1"
# The reference (which wins) documents these as optional; the generated spec says otherwise.
SPEC_REQUIRED_DEFECTS = {("post", "/api/v1/rooms"): {"privacy", "roles", "private_group_chat_roles"}}


@pytest.fixture(scope="module")
def spec() -> dict:
    if not SPEC_PATH.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the contract {SPEC_PATH} is missing")
        pytest.skip(f"{SPEC_PATH} not found (the shared/ folder sits beside the repo)")
    import yaml

    return yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _fake_response(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/results"):
        return httpx.Response(200, json=[{"question": "Lunch?", "options": []}])
    if path.endswith("/summary"):
        return httpx.Response(200, json={"job_id": "j", "status": "READY", "summary": "ok"})
    if path.endswith("/download"):
        return httpx.Response(200, json={"link": "https://files.test/x.mp4"})
    if request.method == "GET" and not re.search(r"/rooms/[^/]+$", path):
        return httpx.Response(200, json={"total_count": 0, "data": []})
    body = {"id": "11111111-2222-3333-4444-555555555555", "friendly_url": "standup", "room_url": "https://x.test/s",
            "question": "Lunch?", "options": []}
    return httpx.Response(200, json=body)


async def _every_request() -> tuple[list[httpx.Request], set[str]]:
    """Call every public method of the client once; return what went over the wire and what was called."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _fake_response(request)

    client = DigitalSambaClient(build_http_client(BASE, "k" * 40, transport=httpx.MockTransport(record)),
                                team_id="t", developer_key="k" * 40)
    room = "11111111-2222-3333-4444-555555555555"
    r = Room(room, "standup", None, "public", "https://x.test/s")
    calls = {
        "check": client.check(),
        "create_room": client.create_room(RoomSpec(name="Design review", slug="design-review",
                                                   description="Design review", private=True,
                                                   external_id="slack:T1:C1")),
        "get_room": client.get_room(room),
        "iter_rooms": _drain(client.iter_rooms()),
        "iter_live_rooms": _drain(client.iter_live_rooms()),
        "live_session": client.live_session(r),
        "latest_session": client.latest_session(r),
        "iter_sessions": _drain(client.iter_sessions(since=date(2026, 1, 1), until=date(2026, 1, 2))),
        "end_session": client.end_session(r, "s-1"),
        "delete_room": client.delete_room(r),
        "get_summary": client.get_summary("s-1"),
        "create_poll": client.create_poll(r, question="Where to for lunch?", type=PollType.SINGLE,
                                          anonymous=False, options=["Pizza", "Sushi"]),
        "iter_polls": _drain(client.iter_polls(r)),
        "poll_results": client.poll_results(r, "p-1"),
        "start_restream": client.start_restream(r, RestreamTarget("YouTube", "sk-secret", type="youtube")),
        "stop_restream": client.stop_restream(r),
        "recording_link": client.recording_link("rec-1"),
        "iter_recordings": _drain(client.iter_recordings(r)),
        "start_recording": client.start_recording(r),
        "stop_recording": client.stop_recording(r),
        "create_webhook": client.create_webhook(endpoint="https://bot.test/webhooks/digitalsamba",
                                                events=["session_ended"], authorization_header="tok",
                                                name="meetops"),
        "list_webhooks": client.list_webhooks(),
        "delete_webhook": client.delete_webhook("w-1"),
        "register_webhook": client.register_webhook("https://bot.test/webhooks/digitalsamba"),
        "issue_join": client.issue_join(r, Person("U1", "T1:U1", Role.ATTENDEE), lifetime=timedelta(hours=1)),
    }
    for call in calls.values():
        await call
    await client.start_restream(r, RestreamTarget("RTMP", "sk-secret", server_url="rtmps://live.example.com/app"))
    await client.aclose()
    return sent, set(calls) | {"aclose", "webhook_adapter"}


async def _drain(iterator) -> None:
    async for _ in iterator:
        pass


def _operation(spec: dict, request: httpx.Request) -> tuple[str, dict]:
    # Literal paths first: /rooms/live is not /rooms/{room}.
    for template, item in sorted(spec["paths"].items(), key=lambda kv: kv[0].count("{")):
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, request.url.path) and request.method.lower() in item:
            return template, item[request.method.lower()]
    raise AssertionError(f"{request.method} {request.url.path} is not in the spec")


def _rule_violations(name: str, value, schema: dict) -> list[str]:
    """Check a value against the rules the spec writes into its descriptions."""
    text = schema.get("description") or ""
    problems = []
    if isinstance(value, str):
        if (m := re.search(r"at least (\d+) character", text)) and len(value) < int(m.group(1)):
            problems.append(f"{name} shorter than {m.group(1)}")
        if (m := re.search(r"not be greater than (\d+) character", text)) and len(value) > int(m.group(1)):
            problems.append(f"{name} longer than {m.group(1)}")
        if (m := re.search(r"Must be in \[([^\]]+)\]", text)):
            allowed = re.findall(r"'([^']+)'", m.group(1))
            if value not in allowed:
                problems.append(f"{name}={value!r} not in {allowed}")
        if (m := re.search(r"Must be one of ([^.]+)\.", text)):
            allowed = re.findall(r"([\w-]+)(?: \([^)]*\))?", m.group(1).replace(" or ", ", "))
            if value not in allowed:
                problems.append(f"{name}={value!r} not one of {allowed}")
    expected = schema.get("type")
    types = {"string": str, "boolean": bool, "integer": int, "array": list}
    # The spec types poll `options` as `object` although it is an array of objects.
    if expected in types and not isinstance(value, types[expected]):
        problems.append(f"{name} is {type(value).__name__}, spec says {expected}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += _rule_violations(f"{name}[{i}]", item, schema["items"])
    if isinstance(value, list) and expected == "object" and "properties" in schema:
        for i, item in enumerate(value):
            for key, sub in item.items():
                assert key in schema["properties"], f"{name}[{i}].{key} is not a field of the spec"
                problems += _rule_violations(f"{name}[{i}].{key}", sub, schema["properties"][key])
    return problems


async def test_every_client_method_is_checked(spec):
    _, called = await _every_request()
    public = {name for name, value in vars(DigitalSambaClient).items()
              if inspect.isfunction(value) and not name.startswith("_")}
    assert public <= called, f"add these to the contract test: {sorted(public - called)}"


async def test_every_request_matches_the_spec(spec):
    sent, _ = await _every_request()
    assert len(sent) >= 17
    for request in sent:
        template, operation = _operation(spec, request)
        where = f"{request.method} {template}"
        known_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        unknown = set(request.url.params) - known_params
        assert not unknown, f"{where}: query parameters not in the spec: {unknown}"
        if not request.content:
            continue
        body = json.loads(request.content)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        properties = schema.get("properties") or {}
        assert set(body) <= set(properties), f"{where}: body fields not in the spec: {set(body) - set(properties)}"
        required = set(schema.get("required") or ()) - SPEC_REQUIRED_DEFECTS.get((request.method.lower(), template), set())
        assert required <= set(body), f"{where}: missing required {required - set(body)}"
        problems = [p for key, value in body.items() for p in _rule_violations(key, value, properties[key])]
        assert not problems, f"{where}: {problems}"


def test_rule_checker_catches_what_the_spec_forbids(spec):
    """The checker itself must be able to fail, or the test above proves nothing."""
    rooms = spec["paths"]["/api/v1/rooms"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert _rule_violations("friendly_url", "ab", rooms["friendly_url"])
    assert _rule_violations("friendly_url", "x" * 33, rooms["friendly_url"])
    assert _rule_violations("privacy", "secret", rooms["privacy"])
    polls = spec["paths"]["/api/v1/rooms/{room}/polls"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert _rule_violations("question", "Why", polls["properties"]["question"])
    assert _rule_violations("type", "ranked", polls["properties"]["type"])
    with pytest.raises(AssertionError):
        _rule_violations("options", [{"label": "Pizza"}], polls["properties"]["options"])
    restream = spec["paths"]["/api/v1/rooms/{room}/restreamers/start"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert _rule_violations("type", "twitch", restream["properties"]["type"])
