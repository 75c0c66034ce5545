"""A stateful Slack double: the Web API and response_url endpoints on loopback.

The bot talks to it over real HTTP through slack-sdk
(`AsyncWebClient(base_url=double.api_url)`), so request encoding, auth headers,
error handling and rate-limit behaviour are exercised exactly as against Slack.
Unlike bolt-python's `tests/mock_web_api_server` it keeps state (messages and
their edits, ephemerals, DMs, modals) so a console or a test can read "what the
channel now shows" and drive the next click from it.

The server runs on its own thread (see `BackgroundServer`); every piece of
state sits behind one lock and readers get immutable snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Literal, TypeVar
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.devtools.render import mrkdwn_texts, stray_markup
from bot.devtools.serving import BackgroundServer

T = TypeVar("T")

# Form-encoded calls carry these as JSON strings, JSON calls as objects; callers
# of the double should not have to care which encoding slack-sdk chose.
_JSON_ARGS = ("blocks", "attachments", "view", "metadata")
# ts values are microseconds since the epoch; the first one issued is "1700000000.000100".
_FIRST_TS_US = 1_700_000_000_000_000
_TS_STEP_US = 100

EventKind = Literal["message", "update", "ephemeral", "dm", "view", "response"]


@dataclass(frozen=True)
class Call:
    """One Web API request, with its arguments decoded to Python objects (token removed)."""

    method: str
    args: dict[str, Any]
    at: float


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    name: str
    display_name: str
    real_name: str
    tz: str
    image: str | None
    is_admin: bool
    is_bot: bool = False
    deleted: bool = False  # deactivated
    team_id: str | None = None  # another workspace's person (Slack Connect); None: this workspace
    email: str | None = None  # what users:read.email shows; None: not shared


@dataclass(frozen=True)
class Message:
    """One version of a message the bot posted; `updates` counts the edits before it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    user: str
    updates: int = 0
    deleted: bool = False
    metadata: dict[str, Any] | None = None  # chat.postMessage's `metadata` (event_type, event_payload)


@dataclass(frozen=True)
class Ephemeral:
    """A message only `user` sees; `via` is "chat.postEphemeral" or "response_url"."""

    user: str | None
    channel: str | None
    text: str
    blocks: list[dict[str, Any]]
    via: str
    ts: str | None = None  # chat.postEphemeral's message_ts; response_url gives none


@dataclass(frozen=True)
class View:
    """The current state of a modal; `view` is the object as Slack returns it (id, hash, ...)."""

    id: str
    hash: str
    view: dict[str, Any]
    user: str | None  # who the trigger_id was issued to, when the double issued it
    via: str
    updates: int = 0


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response_url, with the context the URL was issued for."""

    url: str
    body: dict[str, Any]
    status: int
    user: str | None
    channel: str | None
    message_ts: str | None
    at: float


@dataclass(frozen=True)
class Event:
    """One visible change, in arrival order. A response_url post yields a `response`
    event (the raw post) followed by the event for its effect (`ephemeral`, `message`, `update`)."""

    seq: int
    kind: EventKind
    data: Message | Ephemeral | View | ResponsePost


@dataclass(frozen=True)
class _ResponseTarget:
    user: str | None
    channel: str | None
    message_ts: str | None


@dataclass
class _Fault:
    remaining: int | None  # None: until reset_faults()
    error: str = ""
    status: int = 200
    retry_after: int = 0
    took_effect: bool = False

    def take(self) -> bool:
        if self.remaining == 0:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass
class _Hold:
    """Answer matching calls late: `stage` "before" holds the call before it takes effect (nothing is
    posted yet), "after" holds only the answer (the post is in the channel; the caller doesn't know)."""

    method: str
    seconds: float
    stage: Literal["before", "after"]
    when: Callable[[dict[str, Any]], bool] | None
    remaining: int | None

    def matches(self, method: str, args: dict[str, Any]) -> bool:
        if method != self.method or self.remaining == 0:
            return False
        if self.when is not None and not self.when(args):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class _SlackError(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class SlackDouble:
    """`with SlackDouble() as slack: AsyncWebClient(slack.bot_token, base_url=slack.api_url)`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0001",
        team_domain: str = "meetops",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
        bot_name: str = "meetops",
        app_id: str = "A0001",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_url: str | None = None  # where apps.connections.open sends Socket Mode clients
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id

        self._lock = threading.Lock()
        self._users: dict[str, DirectoryUser] = {}
        self._channels: dict[str, str] = {"C0001": "general"}
        self._dm_channels: dict[str, str] = {}  # user id -> D id
        self._calls: list[Call] = []
        self._messages: dict[tuple[str, str], list[Message]] = {}  # every version, in posting order
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, View] = {}
        self._responses: list[ResponsePost] = []
        self._response_targets: dict[int, _ResponseTarget] = {}
        self._triggers: dict[str, str] = {}  # trigger_id -> user id
        self._events: list[Event] = []
        self._stray: list[str] = []
        self._failures: dict[str, _Fault] = {}
        self._rate_limits: dict[str, _Fault] = {}
        self._response_fault: _Fault | None = None
        self._latency = 0.0
        self._holds: list[_Hold] = []
        self._release = 0  # bumped by release_holds(): every held call answers now
        self._serial = itertools.count(1)
        self._in_flight = 0
        self._last_activity = time.monotonic()

        self.add_user("U0001", "ada", real_name="Ada Lovelace")
        self.add_user("U0002", "grace", real_name="Grace Hopper")
        self.add_user("U0003", "linus")

        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "users.info": self._users_info,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
        }
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{n:int}", self._response_url, methods=["POST"]),
            ]
        )
        self._server = BackgroundServer(app, host, port)

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        """Pass as slack-sdk's `base_url`; the trailing slash matters to its urljoin."""
        return f"{self.url}/api/"

    def start(self) -> SlackDouble:
        self._server.start()
        return self

    def request_stop(self) -> None:
        self._server.request_stop()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SlackDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- directory ---------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        display_name: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/Madrid",
        image: str | None = None,
        is_admin: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        team_id: str | None = None,
        email: str | None = None,
    ) -> DirectoryUser:
        # Slack leaves display_name empty unless the person set one; bots must fall back.
        user = DirectoryUser(user_id, name, display_name or "", real_name or name, tz, image, is_admin,
                             is_bot=is_bot, deleted=deleted, team_id=team_id, email=email)
        with self._lock:
            self._users[user_id] = user
        return user

    def user(self, user_id: str) -> DirectoryUser:
        with self._lock:
            if user_id not in self._users:
                raise LookupError(f"unknown user {user_id}; add it with add_user()")
            return self._users[user_id]

    @property
    def users(self) -> list[DirectoryUser]:
        """The workspace's directory, in the order people were added."""
        with self._lock:
            return list(self._users.values())

    def find_user(self, name: str) -> DirectoryUser | None:
        """The person with this handle (`ada`), as Slack's mention autocomplete finds them."""
        with self._lock:
            return next((u for u in self._users.values() if u.name == name), None)

    def find_channel(self, name: str) -> str | None:
        with self._lock:
            return next((cid for cid, cname in self._channels.items() if cname == name), None)

    def add_channel(self, channel_id: str, name: str) -> None:
        with self._lock:
            self._channels[channel_id] = name

    def channel_name(self, channel_id: str) -> str:
        """The name Slack puts in payloads: "directmessage" for DMs, else the channel's name."""
        if channel_id.startswith("D"):
            return "directmessage"
        with self._lock:
            return self._channels.get(channel_id, channel_id)

    # -- context the double issues, so later calls can be attributed --------

    def new_response_url(
        self, *, user: str | None = None, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response_url for an interaction by `user` in `channel`; pass `message_ts` when it
        came from a (non-ephemeral) message so replace_original/delete_original can act on it."""
        with self._lock:
            n = len(self._response_targets) + 1
            self._response_targets[n] = _ResponseTarget(user, channel, message_ts)
        return f"{self.url}/response/{n}"

    def new_trigger_id(self, user: str | None = None) -> str:
        trigger_id = f"{int(time.time())}.{secrets.token_hex(12)}"
        if user is not None:
            with self._lock:
                self._triggers[trigger_id] = user
        return trigger_id

    # -- faults ------------------------------------------------------------

    def fail(self, method: str, error: str, count: int | None = None, *, status: int = 200,
             took_effect: bool = False) -> None:
        """Answer `method` with `{"ok": false, "error": error}` (HTTP `status`) for the next `count` calls (None:
        until reset). `took_effect`: the call is carried out first, as when Slack posts a message and then
        fails to answer (a 5xx after the fact)."""
        with self._lock:
            self._failures[method] = _Fault(count, error=error, status=status, took_effect=took_effect)

    def rate_limit(self, method: str, retry_after: int = 1, count: int | None = 1) -> None:
        """Answer `method` with HTTP 429 and a Retry-After header, as Slack's rate limiter does."""
        with self._lock:
            self._rate_limits[method] = _Fault(count, error="ratelimited", status=429, retry_after=retry_after)

    def fail_response_urls(self, status: int = 404, count: int | None = None) -> None:
        with self._lock:
            self._response_fault = _Fault(count, status=status)

    def latency(self, seconds: float) -> None:
        """Delay every answer; requests still overlap, so this models a slow network, not a slow lock."""
        with self._lock:
            self._latency = seconds

    def hold(self, method: str, seconds: float, *, stage: Literal["before", "after"] = "after",
             when: Callable[[dict[str, Any]], bool] | None = None, count: int | None = 1) -> None:
        """Answer the next `count` calls of `method` (those `when(args)` accepts) `seconds` late; with
        stage="after" the call takes effect at once and only its answer is late (a post in flight when the
        bot dies), with "before" nothing happens until then, and nothing at all if `release_holds()` comes
        first (a post that never reached Slack)."""
        with self._lock:
            self._holds.append(_Hold(method, seconds, stage, when, count))

    def release_holds(self) -> None:
        with self._lock:
            self._holds.clear()
            self._release += 1

    def reset_faults(self) -> None:
        self.release_holds()
        with self._lock:
            self._failures.clear()
            self._rate_limits.clear()
            self._response_fault = None
            self._latency = 0.0

    # -- reading state -----------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str | None = None) -> list[Message]:
        """The current version of every message still shown, in posting order."""
        with self._lock:
            current = [versions[-1] for versions in self._messages.values()]
        return [m for m in current if not m.deleted and channel in (None, m.channel)]

    def history(self, channel: str, ts: str) -> list[Message]:
        """Every version of one message, oldest first."""
        with self._lock:
            return list(self._messages.get((channel, ts), []))

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent and its replies, oldest first."""
        return sorted(
            (m for m in self.messages(channel) if ts in (m.ts, m.thread_ts)),
            key=lambda m: m.ts,
        )

    def dms(self, user: str) -> list[Message]:
        with self._lock:
            channel = self._dm_channels.get(user)
        return self.messages(channel) if channel else []

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [e for e in self._ephemerals if user in (None, e.user)]

    @property
    def views(self) -> list[View]:
        """The current state of every modal opened, in opening order."""
        with self._lock:
            return list(self._views.values())

    @property
    def responses(self) -> list[ResponsePost]:
        with self._lock:
            return list(self._responses)

    def take_markup_problems(self) -> list[str]:
        """Every `<…>` sent in mrkdwn since the last call that Slack would not show as written
        (bot.devtools.render.stray_markup), with where it was. Slack accepts such a message, so only the
        double can notice."""
        with self._lock:
            taken, self._stray = self._stray, []
        return taken

    def events_since(self, cursor: int = 0) -> tuple[list[Event], int]:
        """Events after `cursor` and the cursor to pass next time (start from 0)."""
        with self._lock:
            return self._events[cursor:], len(self._events)

    def as_payload(self, message: Message, with_metadata: bool = False) -> dict[str, Any]:
        """The message object as Slack shows it in API answers and interaction payloads."""
        payload = {
            "type": "message",
            "user": message.user,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": message.ts,
            "text": message.text,
            "blocks": message.blocks,
        }
        if message.thread_ts:
            payload["thread_ts"] = message.thread_ts
        if message.metadata and with_metadata:
            payload["metadata"] = message.metadata
        return payload

    # -- waiting -----------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Poll `predicate` every 10 ms until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.01)
        return result

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(0.01)
        return result

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Return once nothing is in flight and nothing has arrived for `quiet` seconds."""
        await self.wait_for(lambda: self._idle_for(quiet), timeout)

    def wait_idle_sync(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        self.wait_for_sync(lambda: self._idle_for(quiet), timeout)

    def _idle_for(self, quiet: float) -> bool:
        with self._lock:
            return self._in_flight == 0 and time.monotonic() - self._last_activity >= quiet

    # -- HTTP endpoints ----------------------------------------------------

    async def _api(self, request: Request) -> Response:
        async with self._in_flight_request():
            method = request.path_params["method"]
            args = await _read_args(request)
            # Tokens may come as a header or, for form posts, as a `token` argument.
            form_token = args.pop("token", None)
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or form_token
            with self._lock:
                self._calls.append(Call(method, args, time.time()))
                hold = next((h for h in self._holds if h.matches(method, args)), None)
            await self._delay()
            if hold is not None and hold.stage == "before" and await self._held(hold.seconds):
                # Released early: the request never reached Slack (the caller died with it in flight).
                return JSONResponse({"ok": False, "error": "request_dropped"}, 503)
            with self._lock:
                answer = self._answer(method, args, token)
            if hold is not None and hold.stage == "after":
                await self._held(hold.seconds)
            return answer

    async def _held(self, seconds: float) -> bool:
        """Wait `seconds`; True when release_holds() ended the wait early."""
        with self._lock:
            release = self._release
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if self._release != release:
                    return True
            await asyncio.sleep(0.02)
        return False

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> Response:
        limit = self._rate_limits.get(method)
        if limit and limit.take():
            return JSONResponse(
                {"ok": False, "error": limit.error}, limit.status, headers={"Retry-After": str(limit.retry_after)}
            )
        try:
            failure = self._failures.get(method)
            if failure and failure.take():
                if failure.took_effect and token == self.bot_token and method in self._methods:
                    self._methods[method](args)
                if failure.status != 200:
                    return JSONResponse({"ok": False, "error": failure.error}, failure.status)
                raise _SlackError(failure.error)
            if not token:
                raise _SlackError("not_authed")
            if method == "apps.connections.open":  # the one method that takes the app-level token
                if token != self.app_token:
                    raise _SlackError("invalid_auth")
                if self.socket_url is None:
                    raise _SlackError("socket_mode_not_enabled")
                return JSONResponse({"ok": True, "url": self.socket_url})
            if token != self.bot_token:
                raise _SlackError("invalid_auth")
            if method not in self._methods:
                raise _SlackError("unknown_method")
            return JSONResponse({"ok": True, **self._methods[method](args)})
        except _SlackError as e:
            return JSONResponse({"ok": False, "error": e.error})

    async def _response_url(self, request: Request) -> Response:
        async with self._in_flight_request():
            body = json.loads(await request.body() or b"{}")
            await self._delay()
            with self._lock:
                target = self._response_targets.get(request.path_params["n"])
                fault = self._response_fault
                status = 200
                if target is None:
                    status = 404
                elif fault and fault.take():
                    status = fault.status
                target = target or _ResponseTarget(None, None, None)
                post = ResponsePost(
                    str(request.url), body, status, target.user, target.channel, target.message_ts, time.time()
                )
                self._responses.append(post)
                self._check_markup("response_url", body.get("text", ""), body.get("blocks"), body.get("mrkdwn"))
                self._emit("response", post)
                if status == 200:
                    self._apply_response(post)
        # Slack answers response_url posts in plain text, not JSON.
        return PlainTextResponse("ok" if status == 200 else "no_service", status)

    @contextlib.asynccontextmanager
    async def _in_flight_request(self) -> AsyncIterator[None]:
        """Count the request as in flight for the whole of its handling, for wait_idle."""
        with self._lock:
            self._in_flight += 1
            self._last_activity = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_activity = time.monotonic()

    async def _delay(self) -> None:
        with self._lock:
            delay = self._latency
        if delay:
            await asyncio.sleep(delay)

    # -- Web API methods (called with the lock held) -----------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        text, blocks = _content(args)
        self._check_markup("chat.postMessage", text, blocks, args.get("mrkdwn"))
        meta = args.get("metadata")
        if meta is not None and not (isinstance(meta, dict) and isinstance(meta.get("event_type"), str)
                                     and isinstance(meta.get("event_payload", {}), dict)):
            raise _SlackError("invalid_metadata_format")
        message = Message(channel, self._next_ts(), text, blocks, args.get("thread_ts"), self.bot_user_id,
                          metadata=meta)
        self._post(message)
        return {"channel": channel, "ts": message.ts, "message": self.as_payload(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        # Slack wants the D id here, not a user id, so the channel is not resolved.
        current = self._current(args.get("channel"), args.get("ts"))
        if current is None:
            raise _SlackError("message_not_found")
        blocks = args.get("blocks", current.blocks)
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks")
        self._check_markup("chat.update", args.get("text", ""), args.get("blocks"), args.get("mrkdwn"))
        # Like Slack, fields the update leaves out keep their previous value.
        updated = replace(current, text=args.get("text", current.text), blocks=blocks, updates=current.updates + 1)
        self._store(updated, "update")
        return {"channel": updated.channel, "ts": updated.ts, "text": updated.text, "message": self.as_payload(updated)}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        if not args.get("user"):
            raise _SlackError("user_not_found")
        text, blocks = _content(args)
        self._check_markup("chat.postEphemeral", text, blocks, args.get("mrkdwn"))
        ephemeral = Ephemeral(args["user"], channel, text, blocks, "chat.postEphemeral", self._next_ts())
        self._ephemerals.append(ephemeral)
        self._emit("ephemeral", ephemeral)
        return {"message_ts": ephemeral.ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("message_ts")
        if not channel:
            raise _SlackError("channel_not_found")
        if not ts:
            raise _SlackError("message_not_found")
        permalink = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": permalink}

    def _views_open(self, args: dict[str, Any], via: str = "views.open") -> dict[str, Any]:
        trigger_id, view = args.get("trigger_id"), args.get("view")
        if not trigger_id or not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        view_id = f"V{next(self._serial):08d}"
        opened = View(view_id, _view_hash(), {}, self._triggers.get(trigger_id), via)
        return {"view": self._store_view(opened, view)}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(args, via="views.push")

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        current = self._views.get(args.get("view_id", ""))
        if current is None and args.get("external_id"):
            current = next((v for v in self._views.values() if v.view.get("external_id") == args["external_id"]), None)
        if current is None:
            raise _SlackError("not_found")
        # The hash guards against racing updates; Slack rejects a stale one.
        if args.get("hash") and args["hash"] != current.hash:
            raise _SlackError("hash_conflict")
        updated = replace(current, hash=_view_hash(), via="views.update", updates=current.updates + 1)
        return {"view": self._store_view(updated, view)}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(args.get("user", ""))
        if user is None:
            raise _SlackError("user_not_found")
        offset = datetime.now(ZoneInfo(user.tz)).utcoffset()
        image = user.image or f"https://avatars.slack-double.invalid/{user.id}.png"
        return {
            "user": {
                "id": user.id,
                "team_id": user.team_id or self.team_id,
                "name": user.name,
                "real_name": user.real_name,
                "deleted": user.deleted,
                "is_bot": user.is_bot,
                "is_admin": user.is_admin,
                "tz": user.tz,
                "tz_offset": int(offset.total_seconds()) if offset else 0,
                "profile": {
                    "display_name": user.display_name,
                    "real_name": user.real_name,
                    "image_72": image,
                    "image_192": image,
                    **({"email": user.email} if user.email else {}),
                },
            }
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # Only one-to-one DMs: "U1,U2" is not a known user and answers user_not_found.
        return {"channel": {"id": self._dm_channel(args.get("users", ""))}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        dm_user = next((user for user, dm in self._dm_channels.items() if dm == channel), None)
        if dm_user:
            return {"channel": {"id": channel, "is_im": True, "is_channel": False, "user": dm_user}}
        if channel in self._channels:
            name = self._channels[channel]
            return {
                "channel": {"id": channel, "name": name, "is_im": False, "is_channel": True, "is_private": False}
            }
        raise _SlackError("channel_not_found")

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """The parent and its replies, oldest first, paged by `limit` and `cursor`; metadata only with
        include_all_metadata, as Slack does."""
        channel, ts = args.get("channel") or "", args.get("ts") or ""
        if not channel or not any(c == channel for c, _ in self._messages):
            raise _SlackError("channel_not_found")
        if self._current(channel, ts) is None:
            raise _SlackError("thread_not_found")
        thread = sorted((v[-1] for (c, _), v in self._messages.items()
                         if c == channel and not v[-1].deleted and ts in (v[-1].ts, v[-1].thread_ts)),
                        key=lambda m: m.ts)
        return self._page(thread, args)

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's top-level messages, newest first."""
        channel = args.get("channel") or ""
        if not channel:
            raise _SlackError("channel_not_found")
        top = sorted((v[-1] for (c, _), v in self._messages.items()
                      if c == channel and not v[-1].deleted and v[-1].thread_ts in (None, v[-1].ts)),
                     key=lambda m: m.ts, reverse=True)
        return self._page(top, args)

    def _page(self, messages: list[Message], args: dict[str, Any]) -> dict[str, Any]:
        try:
            start, limit = int(args.get("cursor") or 0), max(1, min(int(args.get("limit") or 100), 1000))
        except ValueError:
            raise _SlackError("invalid_cursor") from None
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        page = messages[start:start + limit]
        more = start + limit < len(messages)
        return {"messages": [self.as_payload(m, with_metadata) for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    # -- state changes (lock held) -----------------------------------------

    def _next_ts(self) -> str:
        us = _FIRST_TS_US + _TS_STEP_US * next(self._serial)
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _check_markup(self, method: str, text: Any, blocks: Any, mrkdwn: Any) -> None:
        """Notes stray `<…>` in what Slack reads as mrkdwn (`mrkdwn: false` turns that off for `text`)."""
        for shown in mrkdwn_texts(text, blocks, mrkdwn=mrkdwn not in (False, "false", "0")):
            self._stray.extend(f"{method}: {seq} in {shown[:120]!r}" for seq in stray_markup(shown))

    def _emit(self, kind: EventKind, data: Message | Ephemeral | View | ResponsePost) -> None:
        self._events.append(Event(len(self._events), kind, data))

    def _post(self, message: Message) -> None:
        self._store(message, "dm" if message.channel.startswith("D") else "message")

    def _store(self, message: Message, kind: EventKind) -> None:
        self._messages.setdefault((message.channel, message.ts), []).append(message)
        self._emit(kind, message)

    def _current(self, channel: str | None, ts: str | None) -> Message | None:
        versions = self._messages.get((channel or "", ts or ""))
        return versions[-1] if versions and not versions[-1].deleted else None

    def _store_view(self, record: View, view: dict[str, Any]) -> dict[str, Any]:
        self._check_markup(record.via, "", view.get("blocks"), False)
        shown = {
            "type": "modal",
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            **view,
            "id": record.id,
            "hash": record.hash,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "app_installed_team_id": self.team_id,
            "root_view_id": record.id,
            "previous_view_id": None,
            "state": {"values": {}},
        }
        stored = replace(record, view=shown)
        self._views[record.id] = stored
        self._emit("view", stored)
        return shown

    def _dm_channel(self, user_id: str) -> str:
        if user_id not in self._users:
            raise _SlackError("user_not_found")
        return self._dm_channels.setdefault(user_id, f"D{len(self._dm_channels) + 1:04d}")

    def _resolve_channel(self, channel: str | None) -> str:
        """Posting to a user id posts into the bot's DM with them, as Slack does."""
        if not channel:
            raise _SlackError("channel_not_found")
        if channel[0] in "UW":
            try:
                return self._dm_channel(channel)
            except _SlackError:
                raise _SlackError("channel_not_found") from None
        return channel

    def _apply_response(self, post: ResponsePost) -> None:
        """What Slack shows after a response_url post; replacing/deleting acts only on
        messages the URL was issued for, so an ephemeral's replacement is a new ephemeral."""
        body = post.body
        text, blocks = body.get("text", ""), body.get("blocks") or []
        original = self._current(post.channel, post.message_ts)
        if body.get("delete_original"):
            if original:
                self._store(replace(original, deleted=True), "update")
        elif body.get("replace_original") and original:
            self._store(replace(original, text=text, blocks=blocks, updates=original.updates + 1), "update")
        elif body.get("response_type") == "in_channel" and post.channel:
            self._post(Message(post.channel, self._next_ts(), text, blocks, body.get("thread_ts"), self.bot_user_id))
        else:
            ephemeral = Ephemeral(post.user, post.channel, text, blocks, "response_url")
            self._ephemerals.append(ephemeral)
            self._emit("ephemeral", ephemeral)


async def _read_args(request: Request) -> dict[str, Any]:
    """Query string plus body: slack-sdk sends GET params, form data or JSON depending on the method."""
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body and request.headers.get("content-type", "").startswith("application/json"):
        args.update(json.loads(body))
    elif body:
        args.update(parse_qsl(body.decode()))
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass  # left as sent; the method answers invalid_blocks/invalid_arguments
    return args


def _content(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text, blocks = args.get("text") or "", args.get("blocks") or []
    if not isinstance(blocks, list):
        raise _SlackError("invalid_blocks")
    if not text and not blocks and not args.get("attachments"):
        raise _SlackError("no_text")
    return text, blocks


def _view_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"
