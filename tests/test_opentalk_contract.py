"""Every request the OpenTalk client sends, checked against OpenTalk's own OpenAPI 3.1 spec
(`shared/contracts/opentalk/frontend_api.v0.30.0.yaml`, used unmodified).

The client runs every public method against the emulator over loopback; an httpx event hook records
each request as it leaves (the API client's and the OIDC client's), and each is checked: the path and
method exist, query parameters are declared (and required ones sent), the JSON body's fields are the
schema's (through $ref / allOf / oneOf), required fields are present, and types, enums, lengths and
item counts hold. The checker is shown to fail on bad requests, so a pass means something.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers import registry
from bot.providers.base import Person, RestreamTarget, Role, RoomSpec
from bot.providers.opentalk.client import OpenTalkClient
from bot.providers.scheduling import MeetingPlan
from bot.recurrence import Repeat

HERE = Path(__file__).resolve()
CANDIDATES = [parent / "shared" / "contracts" / "opentalk" / "frontend_api.v0.30.0.yaml" for parent in HERE.parents]


@pytest.fixture(scope="module")
def spec() -> dict:
    found = next((p for p in CANDIDATES if p.exists()), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the OpenTalk contract (shared/contracts/opentalk/frontend_api.v0.30.0.yaml) is missing")
        pytest.skip("the OpenTalk contract is not beside the repo")
    import yaml

    return yaml.load(found.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# -- the checker ---------------------------------------------------------------------------


def _resolve(spec: dict, schema: Any) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        target = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k not in ("$ref", "description")}}
    return schema if isinstance(schema, dict) else {}


def _variants(spec: dict, schema: Any) -> list[tuple[dict, set]]:
    """The object shapes a schema allows: [(properties, required)], allOf merged, oneOf/anyOf split."""
    schema = _resolve(spec, schema)
    if "oneOf" in schema or "anyOf" in schema:
        out = []
        for option in schema.get("oneOf") or schema.get("anyOf"):
            out += _variants(spec, option)
        return out
    shapes = [({}, set())]
    for part in schema.get("allOf") or []:
        shapes = [({**p1, **p2}, r1 | r2) for p1, r1 in shapes for p2, r2 in _variants(spec, part)]
    own = (schema.get("properties") or {}, set(schema.get("required") or ()))
    return [({**p, **own[0]}, r | own[1]) for p, r in shapes]


def _value_problems(spec: dict, where: str, value: Any, schema: Any) -> list[str]:
    schema = _resolve(spec, schema)
    if "oneOf" in schema or "anyOf" in schema:
        options = schema.get("oneOf") or schema.get("anyOf")
        tried = [_value_problems(spec, where, value, option) for option in options]
        if any(not problems for problems in tried):
            return []
        return [f"{where}: matches none of the allowed forms, closest: {min(tried, key=len)}"]
    problems: list[str] = []
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds} if kinds else set()
    python = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "array": list,
              "object": dict, "null": type(None)}
    if kinds and not any(isinstance(value, python[k]) and not (k == "integer" and isinstance(value, bool))
                         for k in kinds):
        return [f"{where}: is {type(value).__name__}, the spec says {sorted(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{where}: shorter than {schema['minLength']}")
        if schema.get("format") == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                problems.append(f"{where}: not a UUID")
        if schema.get("format") == "date-time" and not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", value):
            problems.append(f"{where}: not an RFC 3339 date-time")
        if schema.get("format") == "uri" and not re.match(r"^[a-z][a-z0-9+.-]*://", value, re.I):
            problems.append(f"{where}: not a URI")
        if schema.get("format") == "email" and "@" not in value:
            problems.append(f"{where}: not an e-mail address")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            problems += _value_problems(spec, f"{where}[{i}]", item, schema.get("items") or {})
    if isinstance(value, dict) and (schema.get("properties") or schema.get("allOf")):
        problems += _object_problems(spec, where, value, schema)
    return problems


def _object_problems(spec: dict, where: str, body: dict, schema: Any) -> list[str]:
    best: list[str] | None = None
    for properties, required in _variants(spec, schema):
        problems = [f"{where}.{k}: not a field of the spec" for k in body if k not in properties]
        problems += [f"{where}: required field {k} missing" for k in sorted(required - set(body))]
        for key, value in body.items():
            if key in properties:
                problems += _value_problems(spec, f"{where}.{key}", value, properties[key])
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or [f"{where}: the spec has no shape for it"]


def _operation(spec: dict, method: str, path: str) -> tuple[str, dict] | None:
    path = path.removeprefix("/v1")
    for template, item in sorted(spec["paths"].items(), key=lambda kv: kv[0].count("{")):
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def problems_of(spec: dict, method: str, path: str, query: dict[str, str], body: Any) -> list[str]:
    found = _operation(spec, method, path)
    if found is None:
        return [f"{method} {path} is not in the spec"]
    template, operation = found
    where = f"{method} {template}"
    params = {p["name"]: p for p in (_resolve(spec, p) for p in operation.get("parameters") or [])}
    problems = []
    # path parameters: their formats (ids are UUIDs)
    names = re.findall(r"\{([^}]+)\}", template)
    values = re.match("^" + re.sub(r"\{[^/]+\}", "([^/]+)", template) + "$", path.removeprefix("/v1")).groups()
    for name, value in zip(names, values):
        if name in params:
            problems += _value_problems(spec, f"{where} path {name}", value, params[name].get("schema") or {})
    declared = {n for n, p in params.items() if p["in"] == "query"}
    problems += [f"{where}: query parameter {q} is not in the spec" for q in query if q not in declared]
    problems += [f"{where}: required query parameter {n} missing" for n, p in params.items()
                 if p["in"] == "query" and p.get("required") and n not in query]
    content = (operation.get("requestBody") or {}).get("content") or {}
    if body is None:
        if (operation.get("requestBody") or {}).get("required") and "application/json" in content:
            problems.append(f"{where}: the spec requires a body")
        return problems
    if "application/json" not in content:
        return problems + [f"{where}: the spec takes no JSON body"]
    return problems + _object_problems(spec, where + " body", body, content["application/json"]["schema"])


# -- what the client sends ------------------------------------------------------------------


@pytest.fixture
def emulator():
    server = registry.load("opentalk").start_emulator()
    yield server
    server.stop()


async def _exercise(emulator) -> tuple[list[httpx.Request], set[str]]:
    plugin = registry.load("opentalk")
    client: OpenTalkClient = plugin.build(plugin.settings_model(_env_file=None, **emulator.client_settings()))
    sent: list[httpx.Request] = []
    answers: list[tuple[httpx.Request, int, Any]] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async def answer(response: httpx.Response) -> None:
        kind = response.headers.get("content-type", "")
        if "json" in kind:
            await response.aread()
            answers.append((response.request, response.status_code, response.json()))

    client._http.event_hooks["request"].append(record)
    client._http.event_hooks["response"].append(answer)
    client.tokens._oauth.event_hooks["request"].append(record)
    client.tokens._oauth.event_hooks["response"].append(answer)
    client.answers = answers
    now = datetime.now(timezone.utc)
    called: set[str] = set()

    async def call(name: str, result):
        called.add(name)
        if hasattr(result, "__aiter__"):
            return [item async for item in result]
        return await result

    await call("check", client.check())
    room = await call("create_room", client.create_room(
        RoomSpec("Design review", "design-review", "Weekly design review", False, "T1:C1",
                 frozenset({"waiting-room", "phone"})), idempotency_key="k1"))
    await call("get_room", client.get_room(room.id))
    await call("iter_rooms", client.iter_rooms())
    spec = RoomSpec("Design review", "design-review", "Weekly design review", False, "T1:C1")
    assert (await call("find_made", client.find_made(spec, known=set()))).id == room.id
    assert await client.find_made(spec, known={room.id}) is None  # already meetops': not the one a crash left
    guest = Person("U2", "T1:U2", Role.ATTENDEE, "Grace")
    grant = await call("issue_join", client.issue_join(room, guest, lifetime=timedelta(hours=1)))
    await client.issue_join(room, guest, lifetime=timedelta(hours=1), previous=grant.handle)
    await client.issue_join(room, Person("U1", "T1:U1", Role.MODERATOR, "Ada", email="ada@example.com"),
                            lifetime=timedelta(hours=1))
    await client.issue_join(room, Person("U1", "T1:U1", Role.ATTENDEE, "Ada", email="ada@example.com"),
                            lifetime=timedelta(hours=1))  # invited before: the role changes by PATCH
    await call("start_restream", client.start_restream(room, RestreamTarget("YouTube", "sk-secret", type="youtube")))
    await client.start_restream(room, RestreamTarget("Own server", "sk-2", server_url="rtmp://live.example.com/app",
                                                     public_url="https://watch.example.com/"))
    await call("stop_restream", client.stop_restream(room))
    httpx.post(f"{emulator.url}/_sandbox/rooms/{room.id}/recording").raise_for_status()
    recordings = await call("iter_recordings", client.iter_recordings(room))
    called.add("open_recording")
    async with client.open_recording(room, recordings[0].id) as download:
        async for _ in download.chunks:
            pass
    await call("schedule_meeting", client.schedule_meeting(MeetingPlan(
        "Planning", now + timedelta(days=1), timedelta(minutes=45), "Europe/Berlin", Repeat.WEEKDAYS,
        ("guest@example.com",))))
    await call("iter_upcoming", client.iter_upcoming(since=now, until=now + timedelta(days=14)))
    await call("delete_room", client.delete_room(room))
    await call("aclose", client.aclose())
    called |= {"room_url", "invite", "require", "unsupported", "recording_link"}  # no requests of their own
    _exercise.answers = answers
    return sent, called


async def test_every_client_method_is_exercised(emulator):
    _, called = await _exercise(emulator)
    public = {name for name, member in inspect.getmembers(OpenTalkClient)
              if not name.startswith("_") and (inspect.isfunction(member) or inspect.ismethod(member))
              and (name in vars(OpenTalkClient))}
    assert public <= called, f"add these to the contract test: {sorted(public - called)}"


async def test_every_request_matches_the_spec(spec, emulator):
    sent, _ = await _exercise(emulator)
    api = [r for r in sent if r.url.path.startswith("/v1/")]
    assert len(api) >= 20 and any(r.method == "PATCH" for r in api)
    everything = []
    for request in api:
        body = json.loads(request.content) if request.content else None
        everything += problems_of(spec, request.method, request.url.path, dict(request.url.params), body)
    assert not everything, everything
    # the OIDC requests go to the issuer, not the controller: discovery and the token endpoint only
    others = {(r.method, r.url.path) for r in sent if not r.url.path.startswith("/v1/")}
    assert others <= {("GET", "/oidc/.well-known/openid-configuration"), ("POST", "/oidc/token")}, others


async def test_the_emulator_answers_in_the_specs_shapes(spec, emulator):
    """The emulator is only as good as its likeness: every JSON answer the client got is checked against
    the spec's response schema for that status."""
    await _exercise(emulator)
    checked, everything = 0, []
    for request, status, body in _exercise.answers:
        if not request.url.path.startswith("/v1/"):
            continue
        found = _operation(spec, request.method, request.url.path)
        assert found, request.url.path
        template, operation = found
        response = _resolve(spec, (operation.get("responses") or {}).get(str(status)) or {})
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        assert schema is not None, f"{request.method} {template}: the spec has no JSON answer for {status}"
        everything += _value_problems(spec, f"{request.method} {template} -> {status}", body, schema)
        checked += 1
    assert checked >= 20
    assert not everything, everything


def test_the_checker_fails_on_bad_requests(spec):
    """A pass above means something only if a wrong request fails here."""
    room = str(uuid.uuid4())
    good = {"title": "Standup", "description": "", "is_time_independent": True}
    assert not problems_of(spec, "POST", "/v1/events", {"suppress_email_notification": "true"}, good)
    assert problems_of(spec, "POST", "/v1/meetings", {}, good)                              # no such path
    assert problems_of(spec, "PATCH", "/v1/rooms/" + room + "/invites", {}, {})             # no such method
    assert problems_of(spec, "POST", "/v1/events", {"notify": "false"}, good)               # unknown query
    assert problems_of(spec, "GET", "/v1/users/find", {}, None)                             # required query
    assert problems_of(spec, "POST", "/v1/events", {}, {**good, "name": "x"})               # unknown field
    assert problems_of(spec, "POST", "/v1/events", {}, {"title": "Standup"})                # missing required
    assert problems_of(spec, "POST", "/v1/events", {}, {**good, "title": "x" * 256})        # too long
    assert problems_of(spec, "POST", "/v1/events", {}, {**good, "waiting_room": "yes"})     # wrong type
    assert problems_of(spec, "POST", "/v1/events", {}, {**good, "recurrence_pattern": ["A"] * 5})
    assert problems_of(spec, "POST", "/v1/events", {}, {**good, "starts_at": {"datetime": "tomorrow",
                                                                                "timezone": "UTC"}})
    assert problems_of(spec, "POST", f"/v1/rooms/{room}/streaming_targets", {},
                       {"name": "x", "kind": "rtmp", "streaming_endpoint": "rtmp://a/b", "streaming_key": "k",
                        "public_url": "https://x/"})                                        # enum
    assert problems_of(spec, "POST", f"/v1/rooms/{room}/streaming_targets", {},
                       {"name": "x", "kind": "custom", "streaming_endpoint": "rtmp://a/b", "streaming_key": "k"})
    assert problems_of(spec, "POST", "/v1/events/not-a-uuid/invites", {}, {"email": "a@b.c"})  # path format
    assert problems_of(spec, "POST", f"/v1/events/{room}/invites", {}, {"email": "a@b.c", "role": "user"})
    assert problems_of(spec, "POST", f"/v1/events/{room}/invites", {}, {"invitee": room, "role": "guest"})
    assert not problems_of(spec, "POST", f"/v1/events/{room}/invites", {}, {"invitee": room, "role": "moderator"})
