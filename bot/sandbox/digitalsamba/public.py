"""What a person's browser reaches: the room join page and recording download links."""

from __future__ import annotations

from html import escape
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .errors import SandboxError
from .models import Room
from .state import SandboxState


class TokenRefused(Exception):
    pass


def token_claims(token: str, state: SandboxState, room: Room) -> dict[str, Any]:
    """Verify a room token (HS256 with the developer key) for this team and room.

    exp and nbf are checked against the sandbox clock, not the wall clock, so tests that
    move time see tokens expire.
    """
    try:
        claims = jwt.decode(
            token,
            state.developer_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        now = state.now().timestamp()
        if "exp" in claims and now >= float(claims["exp"]):
            raise TokenRefused("the token has expired")
        if "nbf" in claims and now < float(claims["nbf"]):
            raise TokenRefused("the token is not valid yet")
    except (jwt.PyJWTError, TypeError, ValueError) as error:
        raise TokenRefused(f"the token is invalid ({error})")
    if claims.get("td") != state.team_id:
        raise TokenRefused("the token is for another team")
    if claims.get("rd") != room.id:
        raise TokenRefused("the token is for another room")
    return claims


async def join_page(request: Request) -> Response:
    """GET /r/{friendly_url}?token=...: opening the link is joining the meeting."""
    state: SandboxState = request.app.state.sandbox
    try:
        room = state.find_room(request.path_params["friendly_url"])
    except SandboxError as error:
        return PlainTextResponse(error.message, status_code=error.status)
    token = request.query_params.get("token")
    claims: dict[str, Any] = {}
    if token:
        try:
            claims = token_claims(token, state, room)
        except TokenRefused as refusal:
            return PlainTextResponse(f"Access denied: {refusal}.", status_code=403)
    elif room.privacy == "private":
        return PlainTextResponse("Access denied: this room is private and needs a valid token.", status_code=403)
    role = claims.get("role") or room.default_role
    if role not in room.roles:
        return PlainTextResponse(f"Access denied: the role {role} is not available in this room.", status_code=403)
    name = str(claims.get("u") or "Guest")
    try:
        state.join(room, name=name, role=role, external_id=claims.get("ud"))
    except SandboxError as error:
        return PlainTextResponse(error.message, status_code=403)
    text = f"Joined {escape(room.friendly_url)} as {escape(name)} ({escape(role)})"
    return HTMLResponse(f"<!doctype html>\n<title>{text}</title>\n<h1>{text}</h1>\n")


async def recording_file(request: Request) -> Response:
    """The target of a download link: placeholder bytes until the link's `expires`."""
    state: SandboxState = request.app.state.sandbox
    recording = state.recordings.get(request.path_params["recording"])
    if recording is None:
        return PlainTextResponse("Not Found", status_code=404)
    expires = request.query_params.get("expires", "")
    if not expires.isdigit() or state.now().timestamp() > int(expires):
        return PlainTextResponse("This link has expired.", status_code=403)
    return Response(f"sandbox recording {recording.id}\n".encode(), media_type="video/mp4")


routes = [
    Route("/r/{friendly_url}", join_page, methods=["GET"]),
    Route("/files/{recording}.mp4", recording_file, methods=["GET"]),
]
