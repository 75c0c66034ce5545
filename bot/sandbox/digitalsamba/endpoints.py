"""What every sandbox endpoint shares: body parsing, error answers, and for the API, the
request log, injected faults and authentication, in the order a client would meet them.

Handlers are plain functions of a `Call` that return JSON-able data (or a `Response`);
they raise `SandboxError`s for refusals.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import SandboxError
from .models import Room
from .pagination import Page, parse_page
from .state import SandboxState

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class Call:
    state: SandboxState
    request: Request
    body: dict[str, Any]

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    @property
    def base_url(self) -> str:
        # Links point back at this sandbox as the client reached it.
        return str(self.request.base_url).rstrip("/")

    def path(self, name: str) -> str:
        return self.request.path_params[name]

    def room(self) -> Room:
        return self.state.find_room(self.path("room"))

    def page(self) -> Page:
        return parse_page(self.request.query_params)


Handler = Callable[[Call], Any]


def no_content() -> Response:
    return Response(status_code=204)


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


async def read_json(request: Request) -> dict[str, Any] | None:
    """The JSON object body, or None when there is no body."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        raise SandboxError("The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise SandboxError("The request body must be a JSON object.")
    return body


def blanks_to_nulls(value: Any) -> Any:
    """"" becomes null throughout the input, as Laravel's ConvertEmptyStringsToNull does."""
    if value == "":
        return None
    if isinstance(value, dict):
        return {key: blanks_to_nulls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [blanks_to_nulls(item) for item in value]
    return value


def _render(result: Any) -> Response:
    return result if isinstance(result, Response) else JSONResponse(result)


def _authenticated(request: Request, state: SandboxState) -> bool:
    """Bearer developer key, or HTTP Basic with team id and developer key."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.encode(), state.developer_key.encode())
    if scheme.lower() == "basic":
        try:
            team_id, _, key = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return team_id == state.team_id and hmac.compare_digest(key.encode(), state.developer_key.encode())
    return False


def _fault_response(status: int, retry_after: int) -> JSONResponse:
    if status == 429:
        return message(429, "Too Many Attempts.", {"Retry-After": str(retry_after)})
    if status >= 500:
        return message(status, "Server Error")
    return message(status, "Sandbox fault.")


async def _serve(request: Request, state: SandboxState, handler: Handler) -> Response:
    try:
        body = blanks_to_nulls(await read_json(request) or {})
        return _render(handler(Call(state, request, body)))
    except SandboxError as error:
        return JSONResponse(error.body(), status_code=error.status)


def api_endpoint(handler: Handler) -> Endpoint:
    """A Digital Samba API route: logged, subject to faults, authenticated."""

    async def endpoint(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        try:
            logged_body = await read_json(request)
        except SandboxError:
            logged_body = None  # refused in _serve, once the caller has been authenticated
        entry = state.log_request(request.method, request.url.path, dict(request.query_params), logged_body)
        response = await _answer(request, state, handler)
        entry.status = response.status_code
        return response

    return endpoint


async def _answer(request: Request, state: SandboxState, handler: Handler) -> Response:
    faults = state.faults
    if faults.latency_ms and faults.applies_to(request.url.path):
        await asyncio.sleep(faults.latency_ms / 1000)
    status = faults.take_status(request.url.path)
    if status is not None:
        return _fault_response(status, faults.retry_after)
    if not _authenticated(request, state):
        return message(401, "Unauthenticated.")
    return await _serve(request, state, handler)


def _is_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def control_endpoint(handler: Handler) -> Endpoint:
    """A /_sandbox route: no auth and no log, but only for callers on this machine."""

    async def endpoint(request: Request) -> Response:
        if not _is_loopback(request):
            return message(403, "The sandbox control API only answers loopback clients.")
        return await _serve(request, request.app.state.sandbox, handler)

    return endpoint
