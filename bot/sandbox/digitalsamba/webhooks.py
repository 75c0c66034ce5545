"""Webhook deliveries: the state's events POSTed to the endpoints subscribed to them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from .models import Delivery, Event, Webhook, iso
from .state import SandboxState

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


class WebhookDispatcher:
    """Delivers in the background, in event order, through one worker per webhook, so the
    API answers at once and a slow or dead endpoint holds up only its own deliveries."""

    def __init__(self, state: SandboxState):
        self.state = state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # trust_env=False: deliver straight to the endpoint, whatever proxy the shell sets.
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False)
        self.state.subscribe(self._on_event)

    async def stop(self) -> None:
        self.state.unsubscribe(self._on_event)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def _on_event(self, event: Event) -> None:
        assert self._loop is not None  # subscribed only once started
        payload = {"event": event.name, "timestamp": iso(event.timestamp), "data": event.data}
        for webhook in self.state.webhooks.values():
            if event.name in webhook.events:
                # Thread-safe, as a test may change the state from outside the server's loop.
                self._loop.call_soon_threadsafe(self._enqueue, webhook, payload)

    def _enqueue(self, webhook: Webhook, payload: dict[str, Any]) -> None:
        queue = self._queues.get(webhook.id)
        if queue is None:
            queue = self._queues[webhook.id] = asyncio.Queue()
            self._workers.append(asyncio.create_task(self._work(webhook, queue)))
        queue.put_nowait(payload)

    async def _work(self, webhook: Webhook, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            payload = await queue.get()
            # A webhook deleted (or a state reset) since the event loses its pending deliveries.
            if self.state.webhooks.get(webhook.id) is webhook:
                await self._deliver(webhook, payload)

    async def _deliver(self, webhook: Webhook, payload: dict[str, Any]) -> None:
        """Try twice (one retry after `webhook_retry_delay`), then log and drop."""
        attempts, (status, error) = 1, await self._post(webhook, payload)
        if error is not None:
            await asyncio.sleep(self.state.config.webhook_retry_delay)
            attempts, (status, error) = 2, await self._post(webhook, payload)
        if error is not None:
            log.warning("sandbox webhook %s to %s dropped after %d attempts: %s",
                        payload["event"], webhook.endpoint, attempts, error)
        # A reset (or a delete) while this delivery was in flight forgot the webhook: its late result must not
        # land in the next world's delivery log.
        if self.state.webhooks.get(webhook.id) is webhook:
            self.state.deliveries.append(Delivery(webhook.id, payload["event"], webhook.endpoint, attempts, status,
                                                  error))

    async def _post(self, webhook: Webhook, payload: dict[str, Any]) -> tuple[int | None, str | None]:
        assert self._client is not None
        # The receiver authenticates us by this value, sent verbatim (no HMAC signature).
        headers = {"Authorization": webhook.authorization_header} if webhook.authorization_header else {}
        try:
            response = await self._client.post(webhook.endpoint, json=payload, headers=headers)
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"
        if response.is_success:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"
