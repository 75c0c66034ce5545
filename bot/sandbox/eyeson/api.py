"""The Eyeson emulator's HTTP API on the kit: the REST routes meetops uses (form or JSON bodies, the raw
API key in `Authorization`, access keys in paths), the personal link page and download links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.sandbox.kit import EmulatorApp, Refusal, Request

from .world import FEATURES, EyesonWorld, Meeting, User, Webhook, new_id

MAX_ID = 128
MAX_NAME = 200


def _field(body: dict[str, Any], group: str, name: str) -> str | None:
    """`user[name]` from a form, or `{"user": {"name": …}}` from JSON (Eyeson's docs show both)."""
    value = body.get(f"{group}[{name}]")
    if value is None and isinstance(body.get(group), dict):
        value = body[group].get(name)
    return None if value is None else str(value)


def _options(body: dict[str, Any]) -> dict[str, str]:
    options = {key[len("options["):-1]: str(value) for key, value in body.items()
               if key.startswith("options[") and key.endswith("]")}
    if isinstance(body.get("options"), dict):
        options.update({str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in body["options"].items()})
    return options


def _text(value: str | None, what: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise Refusal(400, f"{what} is required.")
        return None
    if len(value) > limit:
        raise Refusal(400, f"{what} is too long.")
    return value.strip()


def _room_answer(world: EyesonWorld, meeting: Meeting, user: User) -> dict[str, Any]:
    base = world.base_url
    return {
        "access_key": user.access_key,
        "ready": True,
        "room": meeting.info(),
        "team": {"name": "meetops emulator"},
        "user": {"id": user.id, "name": user.name, "avatar": user.avatar, "guest": user.guest, "ready": True},
        "links": {
            "self": f"{base}/rooms/{user.access_key}",
            "gui": f"{base}/app/?{user.access_key}",
            "guest_join": f"{base}/app/?guest={meeting.guest_token}" if meeting.guest_token else None,
            "websocket": f"{base}/rooms/{user.access_key}/ws",
        },
    }


def build_api(world: EyesonWorld) -> EmulatorApp:
    app = EmulatorApp(world, error_shape=lambda refusal: {"error": refusal.message},
                      authenticate=lambda request, w: w.authorized(request.headers.get("authorization")))

    def require_key(request: Request) -> None:
        if not world.authorized(request.http.headers.get("authorization")):
            raise Refusal(401, "Unauthorized.")

    def meeting_of(request: Request) -> tuple[Meeting, User]:
        return world.by_key(request.param("key"))

    # -- rooms (API key) --------------------------------------------------------------------

    def post_rooms(request: Request) -> Response:
        body = request.body
        meeting, user = world.join(
            room_id=_text(body.get("id") if not isinstance(body.get("id"), dict) else None, "id", MAX_ID),
            room_name=_text(body.get("name"), "name", MAX_NAME),
            user_id=_text(_field(body, "user", "id"), "user[id]", MAX_ID),
            user_name=_text(_field(body, "user", "name"), "user[name]", MAX_NAME, required=True) or "",
            avatar=_text(_field(body, "user", "avatar"), "user[avatar]", 2000),
            options=_options(body))
        return JSONResponse(_room_answer(world, meeting, user), status_code=201)

    def get_rooms(request: Request) -> Any:
        world.sweep()
        return [meeting.info() for meeting in world.meetings.values()]

    app.api("/rooms", ["POST"], post_rooms)
    app.api("/rooms", ["GET"], get_rooms)

    # -- a room by access key (the key is the credential) or by room id (API key) ----------------

    def get_room(request: Request) -> Any:
        meeting, user = meeting_of(request)
        return _room_answer(world, meeting, user)

    def delete_room(request: Request) -> Any:
        ref = request.param("key")
        if ref in world.access_keys:
            meeting, _ = world.by_key(ref)
            world.shut_down(meeting)
            return {}
        require_key(request)
        world.shut_down(world.running(ref))
        return None

    def users(request: Request) -> Any:
        ref = request.param("key")
        if ref in world.access_keys:
            meeting, _ = world.by_key(ref)
        else:
            require_key(request)
            meeting = world.running(ref)
        online_only = request.query.get("online", "").lower() == "true"
        return [user.present(meeting.room_id) for user in meeting.users.values() if user.online or not online_only]

    app.api("/rooms/{key}", ["GET"], get_room, public=True)
    app.api("/rooms/{key}", ["DELETE"], delete_room, public=True)
    app.api("/rooms/{key}/users", ["GET"], users, public=True)

    # -- in-meeting actions by access key ---------------------------------------------------

    def start_broadcast(request: Request) -> Response:
        meeting, _ = meeting_of(request)
        world.feature_allowed(meeting, "broadcast")
        url = _text(request.body.get("stream_url"), "stream_url", 2000, required=True) or ""
        parts = urlsplit(url)
        if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
            # It quotes the value it refuses, as APIs often do: the client has to keep the key out of it.
            raise Refusal(400, f"stream_url {url} is not an rtmp:// or rtmps:// URL.")
        if meeting.broadcast_url is not None:
            raise Refusal(406, "Not acceptable.")  # one destination at a time
        meeting.broadcast_url = url
        return Response(status_code=201)

    def stop_broadcast(request: Request) -> Any:
        meeting, _ = meeting_of(request)
        meeting.broadcast_url = None
        return {}

    def start_recording(request: Request) -> Response:
        meeting, user = meeting_of(request)
        world.start_recording(meeting, user)
        return Response(status_code=201)

    def stop_recording(request: Request) -> Any:
        meeting, _ = meeting_of(request)
        world.finish_recording(meeting)
        return {}

    def snapshot(request: Request) -> Response:
        meeting, _ = meeting_of(request)
        world.take_snapshot(meeting)
        return Response(status_code=201)  # Eyeson answers without the snapshot; it is listed per room

    app.api("/rooms/{key}/broadcasts", ["POST"], start_broadcast, public=True)
    app.api("/rooms/{key}/broadcasts", ["DELETE"], stop_broadcast, public=True)
    app.api("/rooms/{key}/recording", ["POST"], start_recording, public=True)
    app.api("/rooms/{key}/recording", ["DELETE"], stop_recording, public=True)
    app.api("/rooms/{key}/snapshot", ["POST"], snapshot, public=True)

    # -- recordings and snapshots (API key) ---------------------------------------------------

    def page_of(items: list, request: Request) -> list:
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            raise Refusal(400, "page must be a number.") from None
        return items[(page - 1) * 25: page * 25]

    def room_recordings(request: Request) -> Any:
        room_id = request.param("room")
        found = sorted((r for r in world.recordings.values() if r.room_id == room_id), key=lambda r: r.created_at)
        return [world.present_recording(r) for r in page_of(found, request)]

    def room_snapshots(request: Request) -> Any:
        room_id = request.param("room")
        found = sorted((s for s in world.snapshots.values() if s.room_id == room_id), key=lambda s: s.created_at)
        return [world.present_snapshot(s) for s in page_of(found, request)]

    def get_recording(request: Request) -> Any:
        recording = world.recordings.get(request.param("id"))
        if recording is None:
            raise Refusal(404, "Resource does not exist or expired.")
        return world.present_recording(recording)

    def delete_recording(request: Request) -> Any:
        if world.recordings.pop(request.param("id"), None) is None:
            raise Refusal(404, "Resource does not exist or expired.")
        return None

    def get_snapshot(request: Request) -> Any:
        shot = world.snapshots.get(request.param("id"))
        if shot is None:
            raise Refusal(404, "Resource does not exist or expired.")
        return world.present_snapshot(shot)

    app.api("/rooms/{room}/recordings", ["GET"], room_recordings)
    app.api("/rooms/{room}/snapshots", ["GET"], room_snapshots)
    app.api("/recordings/{id}", ["GET"], get_recording)
    app.api("/recordings/{id}", ["DELETE"], delete_recording)
    app.api("/snapshots/{id}", ["GET"], get_snapshot)

    # -- webhooks (one per API key) ---------------------------------------------------------------

    def register_webhook(request: Request) -> Response:
        url = _text(request.body.get("url"), "url", 2000, required=True) or ""
        types = [t.strip() for t in (_text(request.body.get("types"), "types", 200, required=True) or "").split(",")]
        if not urlsplit(url).scheme.startswith("http") or not all(t in ("room_update", "recording_update",
                                                                        "snapshot_update") for t in types):
            raise Refusal(400, "url or types is invalid.")
        world.webhook = Webhook(id=new_id(), url=url, types=types)  # replaces any other
        return Response(status_code=201)

    def get_webhooks(request: Request) -> Any:
        hook = world.webhook
        if hook is None:
            return []
        return {"id": hook.id, "url": hook.url, "types": hook.types, "last_request_sent_at": None,
                "last_response_code": None}

    def delete_webhook(request: Request) -> Any:
        if world.webhook is None or world.webhook.id != request.param("id"):
            raise Refusal(404, "Resource does not exist or expired.")
        world.webhook = None
        return None

    app.api("/webhooks", ["POST"], register_webhook)
    app.api("/webhooks", ["GET"], get_webhooks)
    app.api("/webhooks/{id}", ["DELETE"], delete_webhook)

    # -- what a browser opens --------------------------------------------------------------------

    def gui(request: Request) -> Response:
        key = request.http.url.query
        meeting, user = world.by_key(key)
        world.come_online(meeting, user)
        return PlainTextResponse(f"Joined {meeting.name} as {user.name}")

    def download(request: Request) -> Response:
        kind, item_id = request.param("kind"), request.param("id")
        store = {"recordings": world.recordings, "snapshots": world.snapshots}.get(kind)
        if store is None or item_id not in store:
            raise Refusal(404, "Resource does not exist or expired.")
        world.check_download(kind, item_id, request.query.get("expires", ""), request.query.get("signature", ""))
        return PlainTextResponse(f"(emulated {kind[:-1]} {item_id})")

    app.api("/app/", ["GET"], gui, public=True)
    app.api("/downloads/{kind}/{id}", ["GET"], download, public=True)

    # -- control: account features (405 when disabled) -------------------------------------------

    def put_features(body: dict, _params: dict) -> Any:
        disabled = body.get("disabled")
        if not isinstance(disabled, list) or not all(f in FEATURES for f in disabled):
            raise Refusal(422, f"disabled must be a list of: {', '.join(FEATURES)}.")
        world.disabled = set(disabled)
        return {"disabled": sorted(world.disabled)}

    app._control("/features", "PUT", put_features)
    app._control("/features", "GET", lambda b, p: {"disabled": sorted(world.disabled)})
    return app
