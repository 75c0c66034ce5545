"""The Slack double, driven through slack-sdk's real clients over loopback HTTP."""

import asyncio
import json
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.devtools.slack_double import SlackDouble

BUTTONS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Standup"}},
    {"type": "actions", "elements": [{"type": "button", "action_id": "join", "text": {"type": "plain_text", "text": "Join"}}]},
]


async def test_auth_test_describes_the_bot(double: SlackDouble, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert (auth["user_id"], auth["team_id"], auth["bot_id"]) == ("UBOT", "T0001", "B0001")
    assert auth["url"] == "https://meetops.slack.com/"


async def test_post_message_assigns_increasing_ts_and_records_the_call(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C0001", text="Standup", blocks=BUTTONS)
    second = await client.chat_postMessage(channel="C0001", text="reply", thread_ts=first["ts"])

    assert first["ts"] == "1700000000.000100" and second["ts"] > first["ts"]
    assert first["channel"] == "C0001" and first["message"]["blocks"] == BUTTONS
    assert [m.text for m in double.messages("C0001")] == ["Standup", "reply"]
    assert [m.ts for m in double.thread("C0001", first["ts"])] == [first["ts"], second["ts"]]
    call = double.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == BUTTONS and "token" not in call.args


async def test_form_encoded_blocks_are_decoded(double: SlackDouble, client: AsyncWebClient) -> None:
    await client.api_call("chat.postMessage", data={"channel": "C0001", "text": "t", "blocks": json.dumps(BUTTONS)})
    assert double.calls[0].args["blocks"] == BUTTONS
    assert double.messages()[0].blocks == BUTTONS


async def test_message_without_content_is_rejected(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as e:
        await client.api_call("chat.postMessage", json={"channel": "C0001", "text": ""})
    assert e.value.response["error"] == "no_text"


async def test_update_replaces_content_and_keeps_history(double: SlackDouble, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="v1", blocks=BUTTONS)
    updated = await client.chat_update(channel="C0001", ts=posted["ts"], text="v2", blocks=[])

    assert updated["ts"] == posted["ts"]
    [message] = double.messages("C0001")
    assert (message.text, message.blocks, message.updates) == ("v2", [], 1)
    assert [m.text for m in double.history("C0001", posted["ts"])] == ["v1", "v2"]
    with pytest.raises(SlackApiError) as e:
        await client.chat_update(channel="C0001", ts="1.000000", text="x")
    assert e.value.response["error"] == "message_not_found"


async def test_posting_to_a_user_opens_their_dm(double: SlackDouble, client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U0002")
    posted = await client.chat_postMessage(channel="U0002", text="your meeting starts")

    assert opened["channel"]["id"] == posted["channel"] == "D0001"
    assert [m.text for m in double.dms("U0002")] == ["your meeting starts"]
    info = await client.conversations_info(channel="D0001")
    assert info["channel"]["is_im"] and info["channel"]["user"] == "U0002"
    events, _ = double.events_since(0)
    assert [e.kind for e in events] == ["dm"]


async def test_ephemeral_is_visible_to_one_user(double: SlackDouble, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(channel="C0001", user="U0001", text="only you")
    [ephemeral] = double.ephemerals("U0001")
    assert (ephemeral.text, ephemeral.via, ephemeral.ts) == ("only you", "chat.postEphemeral", answer["message_ts"])
    assert double.ephemerals("U0002") == [] and double.messages() == []


async def test_views_open_push_and_update(double: SlackDouble, client: AsyncWebClient) -> None:
    modal = {"type": "modal", "callback_id": "schedule", "title": {"type": "plain_text", "text": "Schedule"}, "blocks": []}
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="", view=modal)

    opened = (await client.views_open(trigger_id=double.new_trigger_id("U0002"), view=modal))["view"]
    assert opened["id"].startswith("V") and opened["hash"] and opened["callback_id"] == "schedule"
    with pytest.raises(SlackApiError) as e:
        await client.views_update(view_id=opened["id"], hash="stale", view=modal)
    assert e.value.response["error"] == "hash_conflict"
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": BUTTONS}))["view"]
    await client.views_push(trigger_id="t", view=modal)

    first, pushed = double.views
    assert (first.id, first.user, first.updates, first.hash) == (opened["id"], "U0002", 1, updated["hash"])
    assert first.view["blocks"] == BUTTONS and pushed.via == "views.push"


async def test_users_info_reads_the_directory(double: SlackDouble, client: AsyncWebClient) -> None:
    double.add_user("U0009", "kat", display_name="Kat", tz="America/New_York", is_admin=True)
    ada = (await client.users_info(user="U0001"))["user"]
    kat = (await client.users_info(user="U0009"))["user"]

    assert (ada["name"], ada["real_name"], ada["profile"]["display_name"]) == ("ada", "Ada Lovelace", "")
    assert ada["tz"] == "Europe/Madrid" and ada["tz_offset"] in (3600, 7200)
    assert kat["tz_offset"] in (-18000, -14400) and kat["is_admin"] and kat["profile"]["image_192"]
    with pytest.raises(SlackApiError) as e:
        await client.users_info(user="U404")
    assert e.value.response["error"] == "user_not_found"


async def test_permalink_and_channel_info(client: AsyncWebClient) -> None:
    link = await client.chat_getPermalink(channel="C0001", message_ts="1700000000.000100")
    assert link["permalink"] == "https://meetops.slack.com/archives/C0001/p1700000000000100"
    assert (await client.conversations_info(channel="C0001"))["channel"]["name"] == "general"
    with pytest.raises(SlackApiError):
        await client.conversations_info(channel="C404")


async def test_wrong_token_and_unknown_method(double: SlackDouble) -> None:
    with pytest.raises(SlackApiError) as e:
        await AsyncWebClient(token="xoxb-other", base_url=double.api_url).auth_test()
    assert e.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as e:
        await AsyncWebClient(token=double.bot_token, base_url=double.api_url).api_call("meetings.teleport")
    assert e.value.response["error"] == "unknown_method"
    assert [c.method for c in double.calls] == ["auth.test", "meetings.teleport"]


async def test_injected_failures_count_down_and_reset(double: SlackDouble, client: AsyncWebClient) -> None:
    double.fail("chat.postEphemeral", "user_not_in_channel", count=1)
    double.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as e:
        await client.chat_postEphemeral(channel="C0001", user="U0001", text="x")
    assert e.value.response["error"] == "user_not_in_channel"
    await client.chat_postEphemeral(channel="C0001", user="U0001", text="x")
    for _ in range(2):
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C0001", text="x")
    double.reset_faults()
    await client.chat_postMessage(channel="C0001", text="x")


async def test_rate_limit_answers_429_with_retry_after(
    double: SlackDouble, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slack-sdk adds up to a second of random jitter to Retry-After; keep the test fast.
    monkeypatch.setattr("slack_sdk.http_retry.builtin_async_handlers.random.random", lambda: 0.0)
    double.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(channel="C0001", text="x")
    assert e.value.response.status_code == 429 and e.value.response.headers["Retry-After"] == "7"

    double.rate_limit("chat.postMessage", retry_after=0)
    retrying = AsyncWebClient(double.bot_token, base_url=double.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()])
    assert (await retrying.chat_postMessage(channel="C0001", text="x"))["ok"]
    assert len(double.calls_to("chat.postMessage")) == 3


async def test_response_urls_change_what_slack_shows(double: SlackDouble, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="Standup", blocks=BUTTONS)
    for_message = double.new_response_url(user="U0001", channel="C0001", message_ts=posted["ts"])
    for_command = double.new_response_url(user="U0001", channel="C0001")

    assert (await AsyncWebhookClient(for_command).send(text="just you")).status_code == 200
    await AsyncWebhookClient(for_command).send(text="everyone", response_type="in_channel")
    await AsyncWebhookClient(for_message).send(text="Joined", replace_original=True)

    assert [(e.text, e.via) for e in double.ephemerals("U0001")] == [("just you", "response_url")]
    assert [(m.text, m.updates) for m in double.messages("C0001")] == [("Joined", 1), ("everyone", 0)]
    await AsyncWebhookClient(for_message).send(delete_original=True)
    assert [m.text for m in double.messages("C0001")] == ["everyone"]
    assert [r.body.get("response_type") for r in double.responses] == [None, "in_channel", None, None]


async def test_failing_and_unknown_response_urls_answer_404(double: SlackDouble) -> None:
    double.fail_response_urls(status=404, count=1)
    url = double.new_response_url(user="U0001", channel="C0001")
    assert (await AsyncWebhookClient(url).send(text="lost")).status_code == 404
    assert (await AsyncWebhookClient(url).send(text="found")).status_code == 200
    assert (await AsyncWebhookClient(f"{double.url}/response/99").send(text="x")).status_code == 404
    assert [e.text for e in double.ephemerals()] == ["found"]


async def test_events_feed_reports_changes_in_order(double: SlackDouble, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="a", blocks=BUTTONS)
    events, cursor = double.events_since(0)
    assert [e.kind for e in events] == ["message"] and cursor == 1

    await client.chat_update(channel="C0001", ts=posted["ts"], text="b")
    await client.chat_postEphemeral(channel="C0001", user="U0001", text="c")
    await client.views_open(trigger_id="t", view={"type": "modal", "blocks": []})
    await AsyncWebhookClient(double.new_response_url(user="U0002", channel="C0001")).send(text="d")
    events, cursor = double.events_since(cursor)
    assert [e.kind for e in events] == ["update", "ephemeral", "view", "response", "ephemeral"]
    assert events[0].data.text == "b" and cursor == 6
    assert double.events_since(cursor) == ([], 6)


async def test_wait_for_and_wait_idle(double: SlackDouble, client: AsyncWebClient) -> None:
    with pytest.raises(TimeoutError):
        await double.wait_for(lambda: double.messages(), timeout=0.05)

    double.latency(0.2)
    posting = asyncio.create_task(client.chat_postMessage(channel="C0001", text="slow"))
    [message] = await double.wait_for(lambda: double.messages("C0001"))
    assert message.text == "slow"
    await double.wait_idle(quiet=0.05)
    assert posting.done()


async def test_sustains_200_concurrent_posts(double: SlackDouble, client: AsyncWebClient) -> None:
    started = time.monotonic()
    answers = await asyncio.gather(*(client.chat_postMessage(channel="C0001", text=str(i)) for i in range(200)))
    assert time.monotonic() - started < 5
    assert len({a["ts"] for a in answers}) == 200 and len(double.messages("C0001")) == 200


def test_sync_client_and_sync_waits(double: SlackDouble) -> None:
    WebClient(token=double.bot_token, base_url=double.api_url).chat_postMessage(channel="U0003", text="hi")
    assert double.wait_for_sync(lambda: double.dms("U0003"))[0].text == "hi"
    double.wait_idle_sync(quiet=0.05)


async def test_metadata_is_kept_and_read_back_with_conversations_replies(double: SlackDouble,
                                                                        client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C0001", text="room")
    meta = {"event_type": "meetops_summary", "event_payload": {"session": "s1", "part": 0}}
    for n in range(3):
        await client.chat_postMessage(channel="C0001", thread_ts=parent["ts"], text=f"reply {n}",
                                      metadata=meta if n == 1 else None)
    plain = await client.conversations_replies(channel="C0001", ts=parent["ts"])
    assert [m["text"] for m in plain["messages"]] == ["room", "reply 0", "reply 1", "reply 2"]
    assert not any("metadata" in m for m in plain["messages"]), "metadata only when asked for"
    paged, cursor = [], None
    while True:
        page = await client.conversations_replies(channel="C0001", ts=parent["ts"], include_all_metadata=True,
                                                  limit=2, cursor=cursor)
        paged += page["messages"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [m.get("metadata") for m in paged] == [None, None, meta, None]
    history = await client.conversations_history(channel="C0001", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["room"], "top-level messages only"
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel="C0001", ts="1.000000")
    assert missing.value.response["error"] == "thread_not_found"
    with pytest.raises(SlackApiError) as bad:
        await client.chat_postMessage(channel="C0001", text="x", metadata={"event_payload": {}})
    assert bad.value.response["error"] == "invalid_metadata_format"


async def test_a_held_answer_comes_late_but_the_post_is_there_at_once(double: SlackDouble,
                                                                      client: AsyncWebClient) -> None:
    double.hold("chat.postMessage", 5, stage="after")
    post = asyncio.create_task(client.chat_postMessage(channel="C0001", text="in flight"))
    await double.wait_for(lambda: double.messages("C0001"))
    assert not post.done(), "the caller is still waiting for its answer"
    double.release_holds()
    assert (await post)["ok"]

    double.hold("chat.postMessage", 5, stage="before")
    dropped = asyncio.create_task(client.chat_postMessage(channel="C0001", text="never arrives"))
    await double.wait_for(lambda: len(double.calls_to("chat.postMessage")) == 2)
    double.release_holds()
    with pytest.raises(SlackApiError):
        await dropped
    assert [m.text for m in double.messages("C0001")] == ["in flight"], "a released 'before' hold posts nothing"


async def test_markup_slack_would_not_show_as_written_is_noted(double: SlackDouble, client: AsyncWebClient) -> None:
    """Slack reads every `<…>` in mrkdwn as a person, a channel, a special or a link: a reply saying
    `/meet new <name>` shows "/meet new name". Slack takes it, so the double is what notices."""
    fine = ("Ask <@U0002|grace> in <#C0001|general> <!here> about <https://x.io|x.io>, <mailto:a@b.c> or "
            "<!date^1700000000^{date}|Nov 14>: `/meet new &lt;name&gt;`")
    await client.chat_postMessage(channel="C0001", text=fine, blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "<b> in plain text shows as typed"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": fine}}])
    await client.chat_postMessage(channel="C0001", text="Raw <b>", mrkdwn=False)
    assert double.take_markup_problems() == []

    posted = await client.chat_postMessage(channel="C0001", text="Start one with `/meet new <name>`.")
    await client.chat_postEphemeral(channel="C0001", user="U0001", text="x", blocks=[
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "`/meet polls <room>` lists them"}]}])
    await client.chat_update(channel="C0001", ts=posted["ts"], text="<link name>")
    await AsyncWebhookClient(double.new_response_url(user="U0001", channel="C0001")).send(text="`--provider <name>`")
    await client.views_open(trigger_id=double.new_trigger_id("U0001"), view={
        "type": "modal", "title": {"type": "plain_text", "text": "Poll"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick a <room>"}}]})

    problems = double.take_markup_problems()
    assert [p.split(" in ")[0] for p in problems] == [
        "chat.postMessage: <name>", "chat.postEphemeral: <room>", "chat.update: <link name>",
        "response_url: <name>", "views.open: <room>"]
    assert double.take_markup_problems() == []  # taken once
