"""What Slack sends, as validated models: checked once at the edge, so handlers never meet a surprise.

Slash commands (a form) and interactivity payloads (JSON in the form's `payload` field) are
parsed into these models before any listener runs: over HTTP by `bot.edge` (before Bolt sees
the request) and in Socket Mode by `ValidatePayloads` (a Bolt middleware). Anything that does
not fit is refused with a short reason that names fields and problems, never values: the body
may carry a stream key or a join token.

The models check only what meetops reads, strictly (a number is not a string) and let
everything else through (`extra="allow"`); handlers keep reading the same dicts as before.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Awaitable, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import ids, safejson

log = logging.getLogger(__name__)

Id = Annotated[StrictStr, Field(min_length=1, max_length=255)]
Text = Annotated[StrictStr, Field(max_length=200_000)]
# Slack caps a button's value at 2,000 characters.
ButtonValue = Annotated[StrictStr, Field(max_length=2000)]

# Buttons whose value is what they act on (a room or poll id): a click without one is not Slack's.
VALUED_ACTIONS = frozenset({ids.JOIN, ids.POLL, ids.GO_LIVE, ids.STOP_STREAM, ids.END, ids.SUMMARY,
                            ids.POLL_RESULTS})


class Invalid(ValueError):
    """A request that does not fit; `reason` is safe to log (field names and problems only)."""

    def __init__(self, kind: str, reason: str):
        super().__init__(f"{kind}: {reason}")
        self.kind, self.reason = kind, reason


class _Model(BaseModel):
    # strict: `5` is not the string "5"; extra="allow": fields meetops does not read pass through untouched.
    model_config = ConfigDict(strict=True, extra="allow")


class Enterprise(_Model):
    id: Id | None = None


class Authorization(_Model):
    enterprise_id: Id | None = None
    team_id: Id | None = None
    is_enterprise_install: bool | None = None


class ResponseUrl(_Model):
    response_url: Text


class _Envelope(_Model):
    """What Bolt itself reads from every request to build its context (slack_bolt.request.internals):
    a number where it expects an object would crash it before any listener runs."""

    enterprise: Id | Enterprise | None = None
    enterprise_id: Id | None = None
    team_id: Id | None = None
    is_enterprise_install: bool | StrictStr | None = None
    is_ext_shared_channel: bool | None = None
    authorizations: list[Authorization] | None = None
    thread_ts: Id | None = None
    event: None = None  # Events API only; meetops subscribes to none
    item: None = None
    assistant_thread: None = None
    message: dict | None = None
    previous_message: dict | None = None
    function_execution_id: Id | None = None
    function_data: None = None
    bot_access_token: Text | None = None
    response_urls: list[ResponseUrl] | None = None
    view: dict | None = None  # a block_actions payload from a modal carries its view


class SlashCommand(_Envelope):
    command: Id
    team_id: Id
    user_id: Id
    channel_id: Id
    text: Text = ""
    channel_name: Text = ""
    response_url: Text = ""
    trigger_id: Text = ""


class User(_Model):
    id: Id
    team_id: Id | None = None


class Team(_Model):
    id: Id


class Channel(_Model):
    id: Id


class Container(_Model):
    channel_id: Id | None = None
    message_ts: Id | None = None


class Action(_Model):
    action_id: Id
    block_id: Id | None = None
    value: ButtonValue | None = None


class BlockActions(_Envelope):
    type: Literal["block_actions"]
    user: User
    team: Team | None = None
    channel: Channel | None = None
    container: Container | None = None
    trigger_id: Text | None = None
    response_url: Text | None = None
    actions: list[Action] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _room_buttons_carry_a_value(self) -> "BlockActions":
        for action in self.actions:
            if action.action_id in VALUED_ACTIONS and not action.value:
                raise ValueError(f"a {action.action_id} click without a value")
        return self


class Option(_Model):
    value: Text


class StateValue(_Model):
    type: Id
    value: Text | None = None
    selected_option: Option | None = None
    selected_options: list[Option] | None = None


class ViewState(_Model):
    values: dict[str, dict[str, StateValue]] = Field(default_factory=dict)


class Metadata(_Model):
    """What meetops modals keep in private_metadata (bot.interactions.modal_metadata, the poll answer and
    schedule forms)."""

    channel: Id | None = None
    room: Id | None = None
    poll: Id | None = None
    provider: Id | None = None


class View(_Model):
    callback_id: Id
    team_id: Id | None = None
    app_installed_team_id: Id | None = None
    private_metadata: Text = ""
    state: ViewState = Field(default_factory=ViewState)

    @field_validator("private_metadata")
    @classmethod
    def _metadata_is_ours(cls, value: str) -> str:
        if value:
            try:
                meta = safejson.loads(value, max_depth=4)
            except ValueError:
                raise ValueError("private_metadata is not JSON") from None
            Metadata.model_validate(meta)
        return value


class ViewSubmission(_Envelope):
    type: Literal["view_submission"]
    user: User
    team: Team | None = None
    view: View
    trigger_id: Text | None = None


INTERACTIONS: dict[str, type[_Model]] = {"block_actions": BlockActions, "view_submission": ViewSubmission}


def _reason(error: ValidationError) -> str:
    """`actions.0.value: string_type; user: model_type`: where and what, never the value itself."""
    parts = []
    for problem in error.errors(include_input=False, include_url=False)[:3]:
        # Keys of free-form dicts (block ids) come from the request: name only plain identifiers.
        where = ".".join(str(p) if isinstance(p, int) or re.fullmatch(r"[A-Za-z_]{1,40}", p) else "…"
                         for p in problem["loc"]) or "(payload)"
        what = problem["type"] if problem["type"] != "value_error" else problem["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {what}")
    return "; ".join(parts)


def validate(body: Any) -> str | None:
    """Check a parsed request body. Returns its kind ("command", "block_actions", ...) or None for one
    meetops has no use for (answered 200 and ignored, as Slack expects); raises Invalid otherwise."""
    if not isinstance(body, dict):
        raise Invalid("payload", "not a JSON object")
    if "command" in body and "type" not in body:
        kind, model = "command", SlashCommand
    elif "type" in body:
        kind = body["type"] if isinstance(body["type"], str) else ""
        model = INTERACTIONS.get(kind)
        if model is None:
            if not kind or not re.fullmatch(r"[a-z_]{1,40}", kind):
                raise Invalid("payload", "no type")
            return None
    else:
        raise Invalid("request", "neither a command nor an interaction")
    try:
        model.model_validate(body)
    except ValidationError as error:
        raise Invalid(kind, _reason(error)) from None
    return kind


def for_bolt_itself(body: dict) -> bool:
    """Slack's own checks, which Bolt answers: the Events API's URL verification, the SSL check."""
    return body.get("type") == "url_verification" or "ssl_check" in body


def refusal_line(kind: str, reason: str) -> str:
    return f"refused a malformed {kind} from Slack ({reason})"


class ValidatePayloads(AsyncMiddleware):
    """The same check inside Bolt, for Socket Mode (over HTTP, bot.edge has already answered 400).

    A plain AsyncMiddleware, not a function: Bolt builds a function middleware's arguments from the
    body (`action` is `body["actions"][0]`), which is what may be malformed. A refusal is
    acknowledged with an empty 200 and dropped: over the socket an ack is the only answer there is,
    and an envelope left unacknowledged is delivered again."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        body = req.body
        if for_bolt_itself(body):
            return await next()
        try:
            kind = validate(body)
        except Invalid as error:
            log.warning(refusal_line(error.kind, error.reason))
            return BoltResponse(status=200, body="")
        if kind is None:
            log.info("ignored a %s payload: meetops does not handle it", body["type"])
            return BoltResponse(status=200, body="")
        return await next()
