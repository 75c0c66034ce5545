"""An emulator's Starlette app: the provider's API routes (logged, faulted, authenticated, errors in the
provider's shape) and the kit's standard control API under /_sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from ipaddress import ip_address
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.devtools.serving import BackgroundServer

from .world import Faults, Refusal, World

ErrorShape = Callable[[Refusal], Any]  # the provider's error body for a refusal


def emulator_error(status: int, message: str, details: Any = None) -> Refusal:
    return Refusal(status, message, details)


@dataclass
class Request:
    """What an API handler gets: the world, the raw request, the parsed body (JSON object or form fields)."""

    world: Any
    http: StarletteRequest
    body: dict[str, Any]

    @property
    def query(self) -> dict[str, str]:
        return dict(self.http.query_params)

    def param(self, name: str) -> str:
        return self.http.path_params[name]

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")


Handler = Callable[[Request], Any]  # returns JSON-able data, a Response, or raises Refusal


class SimVerbs(Protocol):
    """The world's side of the console's `sim` commands; raise Refusal(422, "...") for what the platform
    has no equivalent of, Refusal(404, ...) for an unknown room."""

    def sim_join(self, room: str, name: str) -> Any: ...
    def sim_leave(self, room: str, name: str) -> Any: ...
    def sim_end(self, room: str) -> Any: ...
    def sim_recording(self, room: str) -> Any: ...
    def sim_summary(self, room: str) -> Any: ...


async def _body(request: StarletteRequest) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    kind = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in kind:
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refusal(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object.")
    return body


def _loopback(request: StarletteRequest) -> bool:
    try:
        return request.client is not None and ip_address(request.client.host).is_loopback
    except ValueError:
        return False


class EmulatorApp:
    """Collects routes, then `build()` makes the Starlette app with the control API."""

    def __init__(self, world: World, *, error_shape: ErrorShape,
                 authenticate: Callable[[StarletteRequest, World], bool],
                 fault_body: Callable[[int], Any] | None = None):
        self.world = world
        self.error_shape = error_shape
        self.authenticate = authenticate
        self.fault_body = fault_body or (lambda status: self.error_shape(Refusal(status, "Emulator fault.")))
        self.routes: list[Route] = []

    def _render_refusal(self, refusal: Refusal) -> Response:
        return JSONResponse(self.error_shape(refusal), status_code=refusal.status, headers=refusal.headers)

    def api(self, path: str, methods: list[str], handler: Handler, *, public: bool = False) -> None:
        """An API route: logged, subject to faults, authenticated unless `public`."""
        world = self.world

        async def endpoint(request: StarletteRequest) -> Response:
            try:
                body = await _body(request)
            except Refusal as refusal:
                body, early = None, refusal
            else:
                early = None
            entry = world.log_request(request.method, request.url.path, dict(request.query_params), body,
                                      {"content-type": request.headers.get("content-type", "")})
            response = await self._answer(request, handler, body, early, public)
            entry.status = response.status_code
            return response

        self.routes.append(Route(path, endpoint, methods=methods))

    async def _answer(self, request: StarletteRequest, handler: Handler, body: dict | None,
                      early: Refusal | None, public: bool) -> Response:
        faults = self.world.faults
        if faults.latency_ms and faults.applies_to(request.url.path):
            await asyncio.sleep(faults.latency_ms / 1000)
        status = faults.take_status(request.url.path)
        if status is not None:
            headers = {"Retry-After": str(faults.retry_after)} if status == 429 else {}
            return JSONResponse(self.fault_body(status), status_code=status, headers=headers)
        if not public and not self.authenticate(request, self.world):
            return self._render_refusal(Refusal(401, "Unauthorized."))
        if early is not None:
            return self._render_refusal(early)
        try:
            result = handler(Request(self.world, request, body or {}))
            if asyncio.iscoroutine(result):
                result = await result
        except Refusal as refusal:
            return self._render_refusal(refusal)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result)

    def _control(self, path: str, method: str, handler: Callable[[dict, dict], Any]) -> None:
        async def endpoint(request: StarletteRequest) -> Response:
            if not _loopback(request):
                return JSONResponse({"message": "The control API only answers loopback clients."}, status_code=403)
            try:
                result = handler(await _body(request), dict(request.path_params))
            except Refusal as refusal:
                return JSONResponse({"message": refusal.message}, status_code=refusal.status)
            return Response(status_code=204) if result is None else JSONResponse(result)

        self.routes.append(Route("/_sandbox" + path, endpoint, methods=[method]))

    def control(self, path: str, method: str, handler: Callable[[dict, dict], Any]) -> None:
        """A provider's own control route under /_sandbox (loopback only), e.g. to shorten its tokens'
        lifetime: `handler(body, path_params)`."""
        self._control(path, method, handler)

    def build(self, *, sim: SimVerbs | None = None) -> Starlette:
        world = self.world
        known = {f.name for f in fields(Faults)}

        def put_faults(body: dict, _: dict) -> Any:
            unknown = set(body) - known
            if unknown:
                raise Refusal(422, f"Unknown fault option(s): {', '.join(sorted(unknown))}.")
            world.faults = Faults(**{**asdict(world.faults), **body})
            return asdict(world.faults)

        def clear_faults(_b: dict, _p: dict) -> Any:
            world.faults = Faults()

        self._control("/faults", "GET", lambda b, p: asdict(world.faults))
        self._control("/faults", "PUT", put_faults)
        self._control("/faults", "DELETE", clear_faults)
        self._control("/requests", "GET", lambda b, p: [asdict(r) for r in world.requests])
        self._control("/requests", "DELETE", lambda b, p: world.requests.clear())
        self._control("/deliveries", "GET", lambda b, p: [asdict(d) for d in world.outbox.deliveries])
        self._control("/state", "GET", lambda b, p: world.snapshot())
        self._control("/reset", "POST", lambda b, p: world.reset())
        if sim is not None:
            self._control("/rooms/{room}/join", "POST", lambda b, p: sim.sim_join(p["room"], str(b.get("name") or "Guest")))
            self._control("/rooms/{room}/leave", "POST", lambda b, p: sim.sim_leave(p["room"], str(b.get("name") or "")))
            self._control("/rooms/{room}/end", "POST", lambda b, p: sim.sim_end(p["room"]))
            self._control("/rooms/{room}/recording", "POST", lambda b, p: sim.sim_recording(p["room"]))
            self._control("/rooms/{room}/summary", "POST", lambda b, p: sim.sim_summary(p["room"]))

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await world.outbox.start()
            try:
                yield
            finally:
                await world.outbox.stop()

        app = Starlette(routes=list(self.routes), lifespan=lifespan)
        app.state.world = world
        return app


class EmulatorServer(BackgroundServer):
    """An emulator served on loopback from a background thread. `settings` are the client settings
    (field names of the provider's settings model) that point its client here."""

    def __init__(self, app: Starlette, world: World, settings: Callable[[str], dict[str, Any]],
                 host: str = "127.0.0.1", port: int = 0):
        super().__init__(app, host, port)
        self.world = world
        self._settings = settings

    def client_settings(self) -> dict[str, Any]:
        return self._settings(self.url)

    def __enter__(self) -> "EmulatorServer":
        return self
