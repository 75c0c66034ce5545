"""Chalk's authentication: the tenant API key is exchanged for an hour-long tenant token.

    POST /auth/token   {"api_key": "ck_…"}        -> {access_token, refresh_token, token_type, expires_in}
    POST /auth/refresh {"refresh_token": "…"}     -> the same shape

Room and participant routes want `Authorization: Bearer <tenant token>`; tenant routes (`/tenants/…`) want
the key itself in `X-API-Key`. This is not OAuth 2 (the grant is a JSON body with a custom field), so
authlib's clients do not fit; the flow is small and lives here as an `httpx.Auth`.

Concurrency: one exchange or refresh at a time. Every request reads the current token; a request that
finds it missing or close to expiry waits on the lock, and whoever gets the lock first renews it for all.
A 401 answered to a token that is still current means Chalk no longer takes it (expired early, revoked):
the first such request renews it and the others, finding a newer token once they get the lock, just
resend. So a token that expires in the middle of a burst costs one refresh, not one per request.

Token-endpoint failures are returned as the answer to the original request, so the shared HTTP layer says
them in words like any other (401 -> "check CHALK_API_KEY", 5xx -> unavailable, retried when safe).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from bot.safejson import loads

DEFAULT_LIFETIME = 3600.0  # Chalk's JWT_EXPIRY_MINUTES default, when an answer does not say


@dataclass(frozen=True)
class _Token:
    access: str
    refresh: str | None
    expires_at: float  # monotonic seconds
    lifetime: float

    def fresh(self, now: float, margin: float) -> bool:
        return now < self.expires_at - margin


def _read_token(response: httpx.Response, now: float) -> _Token | None:
    """The token pair in an answer (flat, as Chalk's code sends it, or wrapped in `data`, as its docs
    show), or None when the answer is not one."""
    try:
        body = loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        body = body["data"]
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        return None
    try:
        lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    refresh = body.get("refresh_token")
    lifetime = max(1.0, lifetime)
    return _Token(body["access_token"], refresh if isinstance(refresh, str) and refresh else None,
                  now + lifetime, lifetime)


class ChalkAuth(httpx.Auth):
    """Bearer tenant token for the API, `X-API-Key` for tenant routes, renewed before it expires."""

    # The token answers are read inside the flow (`aread`, as this overrides async_auth_flow).

    def __init__(self, api_key: str, api_url: str, *, clock: Callable[[], float] = time.monotonic):
        self._key = api_key
        self._base = api_url.rstrip("/") + "/"
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.exchanges = 0  # key exchanges and refreshes made, for tests and the console
        self.refreshes = 0
        self.failed: httpx.Response | None = None  # set under the lock by a failed exchange

    def __repr__(self) -> str:  # never show the key or a token, even in a traceback
        return "ChalkAuth(***)"

    @property
    def current_token(self) -> str | None:
        return self._token.access if self._token else None

    def _renew_before(self, token: _Token) -> float:
        """Renew this long before expiry: a minute for Chalk's hour-long tokens, a quarter of the lifetime
        for short ones (an emulator's)."""
        return min(60.0, token.lifetime / 4)

    def _usable(self, token: _Token | None) -> bool:
        return token is not None and token.fresh(self._clock(), self._renew_before(token))

    def _token_request(self, route: str, body: dict) -> httpx.Request:
        return httpx.Request("POST", self._base + route, json=body, headers={"Accept": "application/json"})

    async def _renew(self, stale: _Token | None) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Refresh the token (or, when that is refused, exchange the key again), unless another request
        already replaced `stale`. Yields the token requests; a failed exchange leaves its answer in
        `self.failed`. Runs under the lock."""
        current = self._token
        if current is not stale and self._usable(current):
            return  # renewed meanwhile by someone else
        if current is not None and current.refresh:
            response = yield self._token_request("auth/refresh", {"refresh_token": current.refresh})
            await response.aread()
            token = _read_token(response, self._clock()) if response.is_success else None
            if token is not None:
                self._token, self.refreshes = token, self.refreshes + 1
                return
        response = yield self._token_request("auth/token", {"api_key": self._key})
        await response.aread()
        token = _read_token(response, self._clock()) if response.is_success else None
        if token is None:
            self._token = None
            self.failed = response
            return
        self._token, self.exchanges = token, self.exchanges + 1

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if "/tenants/" in request.url.path:
            request.headers["X-API-Key"] = self._key
            yield request
            return
        token = self._token
        for attempt in (1, 2):
            if attempt == 2 or not self._usable(token):
                # Missing, about to expire, or refused (a 401 to it): renew it, one request at a time.
                async with self._lock:
                    self.failed = None
                    steps = self._renew(token)
                    try:
                        step = await steps.__anext__()
                        while True:
                            step = await steps.asend((yield step))
                    except StopAsyncIteration:
                        pass
                    finally:
                        await steps.aclose()
                    if self.failed is not None:
                        return  # the token endpoint's answer stands for this request
                    token = self._token
            assert token is not None
            request.headers["Authorization"] = f"Bearer {token.access}"
            response = yield request
            if response.status_code != 401:
                return

    def sync_auth_flow(self, request):  # pragma: no cover - meetops is async throughout
        raise RuntimeError("ChalkAuth works with httpx.AsyncClient only")
