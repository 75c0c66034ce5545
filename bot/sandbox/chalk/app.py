"""The Chalk emulator's HTTP face: Chalk's legacy `/api/v1` routes on the shared kit, errors as
`{"error": "<message>"}`, plus a stand-in for the deployment's meeting page (`/join`), the recordings'
download links and Chalk-specific controls (`/_sandbox/chalk/tokens…`)."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.sandbox.kit import EmulatorApp, Refusal, Request

from .state import API_PREFIX, ChalkWorld


def _authenticate(request: StarletteRequest, world: ChalkWorld) -> bool:
    if "/tenants/" in request.url.path:  # tenant routes take the key itself
        given = request.headers.get("x-api-key", "")
        return bool(given) and hmac.compare_digest(given.encode(), world.api_key.encode())
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and world.tenant_token_valid(token.strip())


def _page(query: dict[str, str], default_limit: int = 20) -> tuple[int, int]:
    limit = query.get("limit")
    offset = query.get("offset")
    try:
        limit_value, offset_value = (int(limit) if limit else default_limit), (int(offset) if offset else 0)
    except ValueError:
        raise Refusal(400, "invalid pagination parameters") from None
    if limit_value < 1 or offset_value < 0:
        raise Refusal(400, "invalid pagination parameters")
    return limit_value, offset_value


def create_app(world: ChalkWorld):
    app = EmulatorApp(world, error_shape=lambda refusal: {"error": refusal.message}, authenticate=_authenticate)
    p = API_PREFIX

    def room(req: Request):
        return world.find_room(req.param("id"))

    app.api(p + "/auth/token", ["POST"], lambda req: world.exchange(req.body.get("api_key")), public=True)
    app.api(p + "/auth/refresh", ["POST"], lambda req: world.refresh(req.body.get("refresh_token")), public=True)

    def list_rooms(req: Request):
        limit, offset = _page(req.query)
        statuses = {s.strip() for s in (req.query.get("status") or "active").split(",") if s.strip()}
        if statuses - {"scheduled", "active", "ended"}:
            raise Refusal(400, "invalid status filter")
        return world.list_rooms(statuses, limit, offset)

    def create_room(req: Request):
        return JSONResponse(world.room_json(world.create_room(req.body)), status_code=201)

    def get_room(req: Request):
        found = world.rooms.get(req.param("id"))
        if found is None:
            raise Refusal(404, "room not found")
        return world.room_json(found)

    def delete_room(req: Request):
        world.delete_room(room(req))
        return None

    app.api(p + "/rooms", ["GET"], list_rooms)
    app.api(p + "/rooms", ["POST"], create_room)
    app.api(p + "/rooms/{id}", ["GET"], get_room)
    app.api(p + "/rooms/{id}", ["DELETE"], delete_room)
    app.api(p + "/rooms/{id}/end", ["POST"], lambda req: world.room_json(world.end_room(room(req))))

    def list_participants(req: Request):
        found = room(req)
        people = [x for x in world.participants.values() if x.room_id == found.id]
        if req.query.get("active") == "true":
            people = [x for x in people if x.left_at is None]
        return {"participants": [world.participant_json(x) for x in people]}

    app.api(p + "/rooms/{id}/participants", ["GET"], list_participants)
    app.api(p + "/rooms/{id}/participants", ["POST"],
            lambda req: JSONResponse(world.add_participant(room(req), req.body), status_code=201))
    # Chalk's code answers 200 (its docs imply 201), each entry with its own `success`.
    app.api(p + "/rooms/{id}/participants/bulk", ["POST"], lambda req: world.bulk_add(room(req), req.body))
    # Chalk's code answers 200 with the participant (its docs say 204).
    app.api(p + "/rooms/{id}/participants/{pid}", ["DELETE"], lambda req: world.kick(room(req), req.param("pid")))
    app.api(p + "/rooms/{id}/participants/{pid}/token", ["POST"],
            lambda req: world.refresh_participant(room(req), req.param("pid")))

    app.api(p + "/rooms/{id}/recordings/start", ["POST"],
            lambda req: JSONResponse(world.recording_json(world.start_recording(room(req))), status_code=201))
    app.api(p + "/rooms/{id}/recordings/stop", ["POST"],
            lambda req: world.recording_json(world.stop_recording(room(req))))

    def list_recordings(req: Request):
        limit, offset = _page(req.query)
        items = sorted(world.recordings.values(), key=lambda r: r.started_at, reverse=True)
        return {"recordings": [world.recording_json(r) for r in items[offset:offset + limit]],
                "limit": limit, "offset": offset}

    app.api(p + "/recordings", ["GET"], list_recordings)
    app.api(p + "/recordings/{rid}", ["GET"], lambda req: world.recording_json(world.find_recording(req.param("rid"))))
    app.api(p + "/recordings/{rid}/download", ["GET"], lambda req: world.download(world.find_recording(req.param("rid"))))
    app.api(p + "/recordings/{rid}/transcript", ["GET"],
            lambda req: world.transcript(world.find_recording(req.param("rid"))))
    app.api(p + "/tenants/{tid}/config", ["PATCH"], lambda req: _configure(world, req))

    def open_page(req: Request):
        """The deployment's meeting page, played by the emulator: the token opens the room for its owner."""
        try:
            found, person = world.open_page(req.query.get("room", ""), req.query.get("token", ""))
        except Refusal as refusal:
            return PlainTextResponse(f"Cannot join: {refusal.message}", status_code=refusal.status)
        return PlainTextResponse(f"Joined {found.name} as {person.display_name} ({person.role})")

    app.api("/join", ["GET"], open_page, public=True)
    app.api("/files/recordings/{file}", ["GET"],
            lambda req: Response(b"\x00" * 64, media_type="video/mp4"), public=True)

    def set_tokens(body: dict, _: dict) -> Any:
        try:
            world.token_ttl_seconds = max(1, int(body.get("ttl_seconds", world.token_ttl_seconds)))
        except (TypeError, ValueError):
            raise Refusal(422, "ttl_seconds must be a whole number of seconds.") from None
        return {"ttl_seconds": world.token_ttl_seconds}

    app.control("/chalk/tokens", "PUT", set_tokens)
    app.control("/chalk/tokens/expire", "POST", lambda b, p: {"expired": world.expire_tenant_tokens()})
    app.control("/chalk/tokens", "GET", lambda b, p: {"ttl_seconds": world.token_ttl_seconds,
                                                      "exchanges": world.exchanges, "refreshes": world.refreshes})
    app.control("/chalk/webhook", "PUT", lambda b, p: world.configure({"post_meeting_webhook": b}))
    return app.build(sim=world)


def _configure(world: ChalkWorld, req: Request) -> Any:
    if req.param("tid") != world.tenant_id:
        raise Refusal(403, "forbidden")
    return world.configure(req.body)
