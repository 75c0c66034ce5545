"""`POST /slack/events`, checked before Bolt sees it: size, signature, replay, then the payload's shape.

Order matters. The body is read with a cap (413 beyond it, before it is held whole), then the
v0 signature is checked in constant time, its timestamp within Slack's 5 minutes, every header
malformed any way just a failed check (401). Only then is the body looked at: a request seen
before (same signature) is answered 200 and dropped, and the rest is parsed into the models of
`bot.payloads` (400 when it doesn't fit). What passes goes to Bolt as its own request object.

Nothing a refused request carries is logged: one line with the reason, its size and (a known)
content type. A refusal makes no outbound call: not to a response_url in the body, not to Slack.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from bot import payloads, safejson

log = logging.getLogger(__name__)

# Slack's commands and interaction payloads are a few kilobytes; its largest (a modal's full state) far below this.
MAX_BODY_BYTES = 1024 * 1024
# Slack's own rule: a request whose timestamp is more than five minutes off is refused (replays, mostly).
WINDOW_SECONDS = 5 * 60
# The edge stops a few seconds short of it: Bolt checks the signature again moments later with the same
# five minutes, and a request it refused there would have its body logged by Bolt.
ACCEPTED_SECONDS = WINDOW_SECONDS - 5
MAX_FORM_FIELDS = 64

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # [0-9], not \d: "١٢٣" is not a timestamp
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_KNOWN_TYPES = ("application/x-www-form-urlencoded", "application/json", "multipart/form-data", "text/plain")


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def signature_problem(secret: bytes, timestamp: str | None, signature: str | None, body: bytes,
                      now: float) -> str | None:
    """Why the v0 signature does not hold, or None when it does. Never raises, whatever the headers hold."""
    if not secret:
        return "no signing secret configured"
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        return "missing or malformed timestamp"
    if abs(now - int(timestamp)) > ACCEPTED_SECONDS:
        return "timestamp outside the 5-minute window"
    if signature is None or not _SIGNATURE.fullmatch(signature):
        return "missing or malformed signature"
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "wrong signature"
    return None


@dataclass
class ReplayCache:
    """Signatures already accepted, each kept until its timestamp leaves the 5-minute window.

    In memory is enough: a signature is only accepted within that window, so the cache holds at
    most five minutes of one workspace's traffic, and one `meetops serve` owns a workspace (see
    README). Bounded all the same: past `max_entries` (far beyond what Slack sends in five minutes)
    the entry closest to expiring is dropped first. A restart forgets it; a replay of a request
    from the last minutes before a restart would be taken (Slack itself never does that).
    """

    window: float = WINDOW_SECONDS
    max_entries: int = 50_000
    _expiry: dict[str, float] = field(default_factory=dict)
    _heap: list[tuple[float, str]] = field(default_factory=list)

    def first_time(self, signature: str, timestamp: int, now: float) -> bool:
        while self._heap and (self._heap[0][0] < now or len(self._heap) > self.max_entries):
            _, old = heapq.heappop(self._heap)
            self._expiry.pop(old, None)
        if signature in self._expiry:
            return False
        expires = timestamp + self.window + 1
        self._expiry[signature] = expires
        heapq.heappush(self._heap, (expires, signature))
        return True

    def __len__(self) -> int:
        return len(self._expiry)


def _content_type(request: Request) -> str:
    """The media type if it is one of the usual ones, else "other": the header is the sender's text."""
    value = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return value if value in _KNOWN_TYPES else ("none" if not value else "other")


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused (413) by its Content-Length, or as soon as a chunked one passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _TIMESTAMP.fullmatch(declared.strip()):
            raise Refused(400, "malformed Content-Length")
        if int(declared) > limit:
            raise Refused(413, f"body of {int(declared)} bytes declared")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "client went away mid-body") from None
    return b"".join(chunks)


def parse(body: bytes, content_type: str) -> dict:
    """The request as Bolt would read it, but strictly: every failure is Refused(400), never an exception."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    if content_type == "application/json":
        try:
            parsed = safejson.loads(body)
        except ValueError as error:
            raise Refused(400, f"JSON body: {type(error).__name__}") from None
        if not isinstance(parsed, dict):
            raise Refused(400, "JSON body is not an object")
        return parsed
    if content_type != "application/x-www-form-urlencoded":
        raise Refused(400, f"unexpected content type {content_type}")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise Refused(400, "form has too many fields") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise Refused(400, "form repeats a field")
    if "payload" not in form:
        return form
    try:
        payload = safejson.loads(form["payload"])
    except ValueError as error:
        raise Refused(400, f"payload is not usable JSON ({type(error).__name__})") from None
    if not isinstance(payload, dict):
        raise Refused(400, "payload is not a JSON object")
    return payload


class AnsweredFirst(Response):
    """Slack's answer to a slash command, sent before Bolt runs it: an empty 200 (what the command's
    listener acknowledges with anyway). `dispatch` is Bolt's run of the request, owed once this answer
    has been written (bot.server)."""

    def __init__(self, dispatch: Callable[[], Awaitable[None]], command: dict):
        super().__init__(status_code=200)
        self.dispatch = dispatch
        self.command = command  # as validated here: whom to tell should its run fail


class SlackEdge:
    """The checks in front of Bolt for Slack's one URL."""

    def __init__(self, app: AsyncApp, signing_secret: str | None, *, clock: Callable[[], float] = time.time,
                 max_body_bytes: int = MAX_BODY_BYTES, answer_first: frozenset[str] = frozenset()):
        self.app = app
        # Slash commands answered here, before Bolt: their listener acknowledges with nothing, first thing.
        self.answer_first = answer_first
        self._secret = (signing_secret or "").encode()
        self._clock = clock
        self.max_body_bytes = max_body_bytes
        self.replays = ReplayCache()

    async def handle(self, request: Request, addition_context_properties: dict | None = None) -> Response:
        """Like Bolt's AsyncSlackRequestHandler.handle, with the checks first."""
        content_type = _content_type(request)
        declared = request.headers.get("content-length", "")
        size = declared if _TIMESTAMP.fullmatch(declared) else "?"  # digits only: the header is the sender's
        try:
            body = await read_capped(request, self.max_body_bytes)
            size = str(len(body))
            now = self._clock()
            headers = request.headers
            timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
            if problem := signature_problem(self._secret, timestamp, signature, body, now):
                raise Refused(401, problem)
            if not self.replays.first_time(signature, int(timestamp), now):
                log.warning("ignored a replayed Slack request (same signature seen before; %s bytes)", size)
                return Response(status_code=200)
            parsed = parse(body, content_type)
            if payloads.for_bolt_itself(parsed):
                kind = "bolt"
            else:
                kind = payloads.validate(parsed)
        except Refused as refused:
            # Only the reason, the size and the media type: the body may hold a stream key or a join token.
            log.warning("refused a request to /slack/events with %d: %s (%s bytes, %s)", refused.status,
                        refused.reason, size, content_type)
            return PlainTextResponse(_ANSWERS[refused.status], status_code=refused.status)
        except payloads.Invalid as invalid:
            log.warning(payloads.refusal_line(invalid.kind, invalid.reason))
            return PlainTextResponse(_ANSWERS[400], status_code=400)
        if kind is None:
            log.info("ignored a %s payload: meetops does not handle it", parsed["type"])
            return Response(status_code=200)
        try:
            # Bolt gets the body as parsed and checked here, not parsed again: its own parser reads any form
            # containing "payload" as an interaction (a command whose text says "payload" arrived empty), and
            # the second parse cost more of a burst's CPU than any listener's own work before its ack.
            # The raw text stays for Bolt's own signature check.
            bolt_request = AsyncBoltRequest(body="", query=request.query_params, headers=request.headers)
            bolt_request.raw_body, bolt_request.body = body.decode("utf-8"), parsed
            bolt_request.context = build_async_context(AsyncBoltContext({}), parsed)
            for key, value in (addition_context_properties or {}).items():
                bolt_request.context[key] = value
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
            # The models cover every field Bolt reads; should one slip past them, it is still a 400.
            log.warning(payloads.refusal_line(kind, f"Bolt could not read it: {type(error).__name__}"))
            return PlainTextResponse(_ANSWERS[400], status_code=400)
        if kind == "command" and parsed.get("command") in self.answer_first:
            return AnsweredFirst(lambda: self._dispatch_answered(bolt_request), parsed)
        return to_starlette_response(await self.app.async_dispatch(bolt_request))

    async def _dispatch_answered(self, bolt_request: AsyncBoltRequest) -> None:
        """Bolt's run of a command Slack already has its answer to. Bolt answers a command itself only when it
        refuses it before any listener (its authorization): that answer then goes to the person instead."""
        response = await self.app.async_dispatch(bolt_request)
        if response.status == 200 and not response.body:
            return
        log.warning("Bolt refused a command already acknowledged (its answer: %d); telling the person",
                    response.status)
        url = bolt_request.body.get("response_url")
        if response.body and isinstance(url, str):
            await AsyncWebhookClient(url).send(text=response.body, response_type="ephemeral")


_ANSWERS = {400: "Bad request", 401: "Unauthorized", 413: "Request body too large"}
