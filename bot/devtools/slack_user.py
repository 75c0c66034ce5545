"""A person using Slack: signed slash commands, button clicks and modal submissions.

Requests go to the bot's `POST /slack/events` exactly as Slack sends them: form
bodies (interactions as a `payload=<json>` field) signed with the v0 scheme that
`slack_sdk.signature.SignatureVerifier` checks. Response URLs and trigger ids
come from the `SlackDouble`, so whatever the bot does with them lands in the
double's state attributed to this user.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.devtools.slack_double import Ephemeral, Message, SlackDouble, View

# Slack still sends the deprecated verification token; bolt ignores it when signatures are used.
VERIFICATION_TOKEN = "legacy-verification-token"

# The key under which each stateful element reports its value in `view.state.values`.
_STATE_KEYS = {
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
}
_MULTI_KEYS = {"selected_options", "selected_users", "selected_conversations", "selected_channels"}


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request: v0 HMAC-SHA256 over "v0:<timestamp>:<body>"."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class _Clients:
    """HTTP connections shared by a SlackUser and the users made from it with `as_user()`.

    Created lazily: building an httpx client costs tens of milliseconds (SSL setup),
    which would dominate a load test if done per request. An AsyncClient belongs to
    the event loop it first ran on, hence `aclose()` before switching loops.
    """

    def __init__(self) -> None:
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None

    @property
    def sync(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(timeout=10, trust_env=False)
        return self._sync

    @property
    def async_(self) -> httpx.AsyncClient:
        if self._async is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
            self._async = httpx.AsyncClient(timeout=10, trust_env=False, limits=limits)
        return self._async

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None


class SlackUser:
    """One person in one channel. `with SlackUser(url, secret, double) as ada: ada.command("start")`."""

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        double: SlackDouble,
        *,
        team_id: str | None = None,
        user_id: str = "U0001",
        channel_id: str = "C0001",
        channel_name: str = "general",
        _clients: _Clients | None = None,
    ):
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.double = double
        self.team_id = team_id or double.team_id
        self.user_id = user_id
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.profile = double.user(user_id)  # fails early for a user the directory lacks
        double.add_channel(channel_id, channel_name)  # so conversations.info knows where they are
        self._clients = _clients or _Clients()

    def as_user(self, user_id: str, *, channel_id: str | None = None, channel_name: str | None = None) -> SlackUser:
        """Another person on the same connections (closing either closes both)."""
        return SlackUser(
            self.events_url,
            self.signing_secret,
            self.double,
            team_id=self.team_id,
            user_id=user_id,
            channel_id=channel_id or self.channel_id,
            channel_name=channel_name or self.channel_name,
            _clients=self._clients,
        )

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        return sign(self.signing_secret, body, timestamp)

    # -- sending -----------------------------------------------------------

    def command(self, text: str = "", command: str = "/meet") -> httpx.Response:
        return self._post(self.command_form(text, command))

    def click(
        self,
        message_or_blocks: Message | Ephemeral | list[dict[str, Any]],
        action_id: str | None = None,
        *,
        index: int | None = None,
        value: str | None = None,
    ) -> httpx.Response:
        payload = self.click_payload(message_or_blocks, action_id, index=index, value=value)
        return self._post(self._payload_form(payload))

    def submit(self, view: View | dict[str, Any], values: dict[str, dict[str, Any]] | None = None) -> httpx.Response:
        """The bot's ack comes back in the response: `{"response_action": "errors", ...}` or empty."""
        return self._post(self._payload_form(self.submit_payload(view, values or {})))

    async def acommand(self, text: str = "", command: str = "/meet") -> httpx.Response:
        return await self._apost(self.command_form(text, command))

    async def aclick(
        self,
        message_or_blocks: Message | Ephemeral | list[dict[str, Any]],
        action_id: str | None = None,
        *,
        index: int | None = None,
        value: str | None = None,
    ) -> httpx.Response:
        payload = self.click_payload(message_or_blocks, action_id, index=index, value=value)
        return await self._apost(self._payload_form(payload))

    async def asubmit(
        self, view: View | dict[str, Any], values: dict[str, dict[str, Any]] | None = None
    ) -> httpx.Response:
        return await self._apost(self._payload_form(self.submit_payload(view, values or {})))

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()

    def __enter__(self) -> SlackUser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> SlackUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- building what Slack would send -------------------------------------

    def command_form(self, text: str = "", command: str = "/meet") -> dict[str, str]:
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.double.team_domain,
            "channel_id": self.channel_id,
            "channel_name": self.channel_name,
            "user_id": self.user_id,
            "user_name": self.profile.name,
            "command": command,
            "text": self.escaped(text),
            "api_app_id": self.double.app_id,
            "is_enterprise_install": "false",
            "response_url": self.double.new_response_url(user=self.user_id, channel=self.channel_id),
            "trigger_id": self.double.new_trigger_id(self.user_id),
        }

    def escaped(self, text: str) -> str:
        """The text as Slack sends it for a command with `should_escape: true`: &, < and > escaped; a
        known person's `@handle` as `<@U…|handle>` and a known channel's `#name` as `<#C…|name>` (what
        the client's autocomplete inserts); a web address as `<https://…>`."""
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        def person(match: re.Match) -> str:
            handle = match.group(1).rstrip(".")  # "@linus." ends a sentence: the dot is not the handle's
            user = self.double.find_user(handle)
            return f"<@{user.id}|{user.name}>{match.group(1)[len(handle):]}" if user else match.group(0)

        def channel(match: re.Match) -> str:
            channel_id = self.double.find_channel(match.group(1))
            return f"<#{channel_id}|{match.group(1)}>" if channel_id else match.group(0)

        escaped = re.sub(r"(?<![\w<])https?://[^\s<>\"]+", lambda m: f"<{m.group(0)}>", escaped)
        escaped = re.sub(r"(?<![\w<@])@([a-z0-9][a-z0-9._-]*)", person, escaped)
        return re.sub(r"(?<![\w<#])#([a-z0-9][a-z0-9_-]*)", channel, escaped)

    def click_payload(
        self,
        message_or_blocks: Message | Ephemeral | list[dict[str, Any]],
        action_id: str | None = None,
        *,
        index: int | None = None,
        value: str | None = None,
    ) -> dict[str, Any]:
        """A block_actions payload for one button: by `action_id` (optionally narrowed by `value`,
        for buttons sharing an action_id) or by 1-based `index` across the message's buttons."""
        target = message_or_blocks
        if isinstance(target, list):
            blocks, channel, ts = target, self.channel_id, None
        else:
            blocks, channel, ts = target.blocks, target.channel or self.channel_id, target.ts
        block_id, button = _find_button(blocks, action_id, index, value)
        is_ephemeral = isinstance(target, Ephemeral)
        payload: dict[str, Any] = {
            **self._interaction_base("block_actions"),
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": is_ephemeral},
            "channel": {"id": channel, "name": self.double.channel_name(channel)},
            "state": {"values": {}},
            "response_url": self.double.new_response_url(
                user=self.user_id, channel=channel, message_ts=ts if isinstance(target, Message) else None
            ),
            "actions": [
                {
                    "type": "button",
                    "action_id": button.get("action_id"),
                    "block_id": block_id,
                    "text": button.get("text"),
                    "value": button.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        # Slack omits the message from payloads for ephemeral messages.
        if isinstance(target, Message):
            payload["message"] = self.double.as_payload(target)
        elif not is_ephemeral:
            payload["message"] = {"type": "message", "text": "", "blocks": blocks}
        return payload

    def submit_payload(self, view: View | dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A view_submission payload. `values` maps block_id -> action_id -> a plain value
        (a string, an option value, a list for multi-selects); the element type is read from
        the view. A dict with a "type" key is passed through as raw state."""
        shown = view.view if isinstance(view, View) else view
        return {
            **self._interaction_base("view_submission"),
            "view": {**shown, "state": {"values": _view_state(shown.get("blocks", []), values)}},
            "response_urls": [],
        }

    def _interaction_base(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "user": {
                "id": self.user_id,
                "username": self.profile.name,
                "name": self.profile.name,
                "team_id": self.team_id,
            },
            "api_app_id": self.double.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.double.new_trigger_id(self.user_id),
            "team": {"id": self.team_id, "domain": self.double.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    @staticmethod
    def _payload_form(payload: dict[str, Any]) -> dict[str, str]:
        return {"payload": json.dumps(payload)}

    def _request(self, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        body = urlencode(form).encode()
        return body, {"Content-Type": "application/x-www-form-urlencoded", **self.sign(body)}

    def _post(self, form: dict[str, str]) -> httpx.Response:
        body, headers = self._request(form)
        return self._clients.sync.post(self.events_url, content=body, headers=headers)

    async def _apost(self, form: dict[str, str]) -> httpx.Response:
        body, headers = self._request(form)
        return await self._clients.async_.post(self.events_url, content=body, headers=headers)


def _block_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block.get("type") == "input":
        return [block.get("element") or {}]
    if block.get("type") == "actions":
        return block.get("elements", [])
    return [block.get("accessory") or {}]  # a section's accessory, or nothing


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, button) for every button, in the order a console numbers them."""
    found = []
    for position, block in enumerate(blocks):
        # Slack fills in a block_id when the bot gave none; any stable string will do.
        block_id = block.get("block_id", f"block-{position}")
        found += [(block_id, element) for element in _block_elements(block) if element.get("type") == "button"]
    return found


def _find_button(
    blocks: list[dict[str, Any]], action_id: str | None, index: int | None, value: str | None
) -> tuple[str, dict[str, Any]]:
    buttons = _buttons(blocks)
    if (index is None) == (action_id is None and value is None):
        raise ValueError("pick a button by index, or by action_id and/or value")
    if index is not None:
        if not 1 <= index <= len(buttons):
            raise LookupError(f"no button {index}; the message has {len(buttons)}")
        return buttons[index - 1]
    for block_id, button in buttons:
        if action_id in (None, button.get("action_id")) and value in (None, button.get("value")):
            return block_id, button
    available = [(b.get("action_id"), b.get("value")) for _, b in buttons]
    raise LookupError(f"no button with action_id={action_id!r} value={value!r}; buttons: {available}")


def _view_state(blocks: list[dict[str, Any]], values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Like Slack: every stateful element reports, untouched ones with their initial value."""
    elements = {
        (block["block_id"], element["action_id"]): element
        for block in blocks
        if "block_id" in block
        for element in _block_elements(block)
        if element.get("type") in _STATE_KEYS and "action_id" in element
    }
    state: dict[str, dict[str, Any]] = {}
    for (block_id, action_id), element in elements.items():
        state.setdefault(block_id, {})[action_id] = _initial_state(element)
    for block_id, actions in values.items():
        for action_id, value in actions.items():
            element = elements.get((block_id, action_id))
            if isinstance(value, dict) and "type" in value:
                state.setdefault(block_id, {})[action_id] = value
            elif element is None:
                raise LookupError(f"the view has no input {block_id}/{action_id}; pass raw state with a 'type'")
            else:
                state.setdefault(block_id, {})[action_id] = _chosen_state(element, value)
    return state


def _initial_state(element: dict[str, Any]) -> dict[str, Any]:
    key = _STATE_KEYS[element["type"]]
    # initial_value, initial_option, initial_date, ... mirror the state key's name.
    initial = key.replace("selected_", "initial_") if key.startswith("selected_") else "initial_value"
    return {"type": element["type"], key: element.get(initial, [] if key in _MULTI_KEYS else None)}


def _chosen_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    key = _STATE_KEYS[element["type"]]
    if key == "selected_option":
        value = None if value is None else _option(element, value)
    elif key == "selected_options":
        value = [_option(element, v) for v in value]
    return {"type": element["type"], key: value}


def _option(element: dict[str, Any], value: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options += group.get("options", [])
    for option in options:
        if option.get("value") == value:
            return option
    if element["type"].endswith("external_select"):  # options live on the bot's server
        return {"text": {"type": "plain_text", "text": value}, "value": value}
    raise LookupError(f"{element.get('action_id')} has no option {value!r}")
