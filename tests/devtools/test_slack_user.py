"""Signed requests from a simulated Slack user: checked by slack-sdk's verifier and by a real bolt app."""

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.devtools.serving import BackgroundServer
from bot.devtools.slack_double import SlackDouble
from bot.devtools.slack_user import SlackUser, sign

SECRET = "test-signing-secret"
RSVP = [
    {
        "type": "actions",
        "block_id": "rsvp",
        "elements": [
            {"type": "button", "action_id": "rsvp", "value": "yes", "text": {"type": "plain_text", "text": "Yes"}},
            {"type": "button", "action_id": "rsvp", "value": "no", "text": {"type": "plain_text", "text": "No"}},
        ],
    },
    {
        "type": "section",
        "block_id": "more",
        "text": {"type": "mrkdwn", "text": "Changed your mind?"},
        "accessory": {"type": "button", "action_id": "cancel", "text": {"type": "plain_text", "text": "Cancel"}},
    },
]


class Inbox:
    """Stands in for the bot's /slack/events and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []

    async def receive(self, request: Request) -> Response:
        self.requests.append((await request.body(), dict(request.headers)))
        return Response()


@pytest.fixture
def inbox() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    with BackgroundServer(Starlette(routes=[Route("/slack/events", inbox.receive, methods=["POST"])])) as server:
        yield f"{server.url}/slack/events", inbox


@pytest.fixture
def ada(double: SlackDouble) -> Iterator[SlackUser]:
    with SlackUser("http://127.0.0.1:9/unused", SECRET, double) as user:
        yield user


def test_signatures_verify_and_tampering_fails() -> None:
    verifier = SignatureVerifier(SECRET)
    body = b"command=%2Fmeet&text=standup"
    headers = sign(SECRET, body)
    ts, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]

    assert verifier.is_valid(body, ts, signature)
    assert not verifier.is_valid(body + b"x", ts, signature)
    assert not SignatureVerifier("other-secret").is_valid(body, ts, signature)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)  # replay window is five minutes
    assert not verifier.is_valid(body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])


def test_command_posts_a_signed_slash_command_form(double: SlackDouble, inbox: tuple[str, Inbox]) -> None:
    url, received = inbox
    with SlackUser(url, SECRET, double, user_id="U0002") as grace:
        assert grace.command("weekly sync").status_code == 200

    [(body, headers)] = received.requests
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert form["command"] == "/meet" and form["text"] == "weekly sync"
    assert (form["user_id"], form["user_name"], form["channel_id"], form["team_id"]) == ("U0002", "grace", "C0001", "T0001")
    assert form["response_url"].startswith(f"{double.url}/response/") and form["trigger_id"]


async def test_click_picks_buttons_like_a_console(double: SlackDouble, client: AsyncWebClient, ada: SlackUser) -> None:
    await client.chat_postMessage(channel="C0001", text="RSVP", blocks=RSVP)
    [message] = double.messages()

    by_value = ada.click_payload(message, "rsvp", value="no")
    by_index = ada.click_payload(message, index=3)
    action = dict(by_value["actions"][0])
    assert action.pop("action_ts")
    assert action == {"type": "button", "action_id": "rsvp", "block_id": "rsvp", "value": "no", "text": RSVP[0]["elements"][1]["text"]}
    assert by_index["actions"][0]["action_id"] == "cancel" and by_index["actions"][0]["block_id"] == "more"
    assert by_value["container"] == {"type": "message", "message_ts": message.ts, "channel_id": "C0001", "is_ephemeral": False}
    assert by_value["message"]["ts"] == message.ts and by_value["message"]["blocks"] == RSVP
    assert by_value["channel"] == {"id": "C0001", "name": "general"}
    assert by_value["user"] == {"id": "U0001", "username": "ada", "name": "ada", "team_id": "T0001"}
    with pytest.raises(LookupError):
        ada.click_payload(message, "rsvp", value="maybe")
    with pytest.raises(ValueError):
        ada.click_payload(message, "rsvp", index=1)


async def test_click_on_an_ephemeral_has_no_message(double: SlackDouble, client: AsyncWebClient, ada: SlackUser) -> None:
    await client.chat_postEphemeral(channel="C0001", user="U0001", text="RSVP", blocks=RSVP)
    [ephemeral] = double.ephemerals("U0001")

    payload = ada.click_payload(ephemeral, "cancel")
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload


def option(value: str) -> dict:
    return {"text": {"type": "plain_text", "text": value.title()}, "value": value}


def input_block(block_id: str, element_type: str, **element: object) -> dict:
    label = {"type": "plain_text", "text": block_id}
    return {"type": "input", "block_id": block_id, "label": label, "element": {"type": element_type, "action_id": "v", **element}}


def test_submit_fills_state_from_plain_values(ada: SlackUser) -> None:
    view = {
        "id": "V1",
        "hash": "1.abc",
        "callback_id": "schedule",
        "private_metadata": "C0001",
        "blocks": [
            input_block("topic", "plain_text_input", initial_value="Standup"),
            input_block("notes", "plain_text_input"),
            input_block("room", "static_select", options=[option("a"), option("b")]),
            input_block("when", "radio_buttons", options=[option("now"), option("later")]),
            input_block("extras", "checkboxes", options=[option("rec"), option("chat")]),
        ],
    }

    payload = ada.submit_payload(view, {"room": {"v": "b"}, "when": {"v": "later"}, "extras": {"v": ["rec", "chat"]}})
    assert payload["type"] == "view_submission"
    submitted = payload["view"]
    assert [submitted[k] for k in ("id", "hash", "callback_id", "private_metadata")] == ["V1", "1.abc", "schedule", "C0001"]
    assert submitted["state"]["values"] == {
        "topic": {"v": {"type": "plain_text_input", "value": "Standup"}},
        "notes": {"v": {"type": "plain_text_input", "value": None}},
        "room": {"v": {"type": "static_select", "selected_option": option("b")}},
        "when": {"v": {"type": "radio_buttons", "selected_option": option("later")}},
        "extras": {"v": {"type": "checkboxes", "selected_options": [option("rec"), option("chat")]}},
    }
    with pytest.raises(LookupError):
        ada.submit_payload(view, {"room": {"v": "z"}})


@pytest.fixture
def bot(double: SlackDouble) -> Iterator[str]:
    """A minimal bolt app wired to the double: the real consumer of these payloads."""
    app = AsyncApp(client=AsyncWebClient(double.bot_token, base_url=double.api_url), signing_secret=SECRET)

    @app.command("/meet")
    async def meet(ack, respond, say, command) -> None:
        await ack()
        await respond(f"Scheduling {command['text']}")
        await say(text="Standup", blocks=RSVP)

    @app.action("rsvp")
    async def rsvp(ack, body, client) -> None:
        await ack()
        answer = body["actions"][0]["value"]
        text = f"<@{body['user']['id']}>: {answer}"
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text=text)

    @app.action("cancel")
    async def cancel(ack, body, client) -> None:
        await ack()
        title = {"type": "plain_text", "text": "Cancel"}
        view = {"type": "modal", "callback_id": "cancel", "title": title, "blocks": [input_block("why", "plain_text_input")]}
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view("cancel")
    async def cancelled(ack, view) -> None:
        if view["state"]["values"]["why"]["v"]["value"]:
            await ack()
        else:
            await ack(response_action="errors", errors={"why": "Say why"})

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    with BackgroundServer(Starlette(routes=[Route("/slack/events", events, methods=["POST"])])) as server:
        yield f"{server.url}/slack/events"


async def test_a_bolt_app_accepts_every_request(double: SlackDouble, bot: str) -> None:
    async with SlackUser(bot, SECRET, double) as ada:
        assert (await ada.acommand("standup")).status_code == 200
        [message] = await double.wait_for(lambda: double.messages("C0001"))
        [ephemeral] = await double.wait_for(lambda: double.ephemerals("U0001"))
        assert ephemeral.text == "Scheduling standup"

        await ada.aclick(message, index=3)
        [modal] = await double.wait_for(lambda: double.views)
        assert modal.user == "U0001"
        refused = await ada.asubmit(modal, {"why": {"v": ""}})
        assert json.loads(refused.content) == {"response_action": "errors", "errors": {"why": "Say why"}}
        assert (await ada.asubmit(modal, {"why": {"v": "clash"}})).content == b""

        grace = ada.as_user("U0002")
        await grace.aclick(message, "rsvp", value="no")
        [updated] = await double.wait_for(lambda: [m for m in double.messages() if m.updates])
        assert updated.text == "<@U0002>: no"
        await double.wait_idle(quiet=0.05)
