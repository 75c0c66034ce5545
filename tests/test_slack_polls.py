"""Polls that run in Slack, on a provider without a poll API, through the real app over HTTP.

The room lives on `tests.pollless`, a test-only provider plug-in with only the core capabilities; Digital
Samba runs beside it (on its sandbox), so the tests also see that nothing reaches its poll API.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from bot import ids
from bot.devtools.harness import Harness
from bot.providers import registry
from storage import polls, rooms
from tests.conftest import ADMIN
from tests.test_polls import open_form, poll_form, poll_posts, replies, reply_to
from tests.test_rooms import buttons, room_messages

LUNCH = "Lunch today?"


class Clock:
    """Real time plus a jump the test makes: clicks a test sends at once stay "at once", and a later,
    deliberate click is made later by moving the clock past the double-click window."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def later(self, seconds: float = 2.0) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def harness(tmp_path, monkeypatch, clock):
    monkeypatch.setitem(registry.DRIVERS, "pollless", "tests.pollless")
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins=ADMIN, clock=clock,
                       providers={"pollless": {}}, emulate={"pollless"}, meetops_provider="pollless") as h:
        yield h


async def pollless_room(harness, user, name="standup"):
    await user.acommand(f"new {name}")
    room = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", name)) and r.message_ts and r)
    assert room.provider == "pollless"
    return room, next(m for m in room_messages(harness) if m.ts == room.message_ts)


async def ask(harness, user, room, command, n=1):
    await user.acommand(command)
    message = await harness.double.wait_for(lambda: len(replies(harness, room)) >= n and replies(harness, room)[n - 1])
    await harness.double.wait_for(lambda: (p := polls.get(harness.services.db, poll_id(message))) and p.message_ts)
    return message


def poll_id(message) -> str:
    return next(e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"])


def now(harness, message):
    return harness.double.history(message.channel, message.ts)[-1]


def text_of(message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


async def redrawn(harness, message, updates: int):
    return await harness.double.wait_for(lambda: now(harness, message).updates >= updates and now(harness, message))


def tally(harness, message) -> dict[int, list[str]]:
    return polls.votes(harness.services.db, poll_id(message))


async def test_a_poll_on_a_provider_without_a_poll_api_runs_in_slack(harness, ada):
    room, message = await pollless_room(harness, ada)
    assert ids.POLL in buttons(message), "Poll is offered on every provider"
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi Tacos')
    assert [(e["text"]["text"], e["action_id"]) for e in poll.blocks[-1]["elements"]] == [
        ("Pizza", "poll_vote_0"), ("Sushi", "poll_vote_1"), ("Tacos", "poll_vote_2"), ("Close poll", ids.POLL_CLOSE)]
    assert "No votes yet" in text_of(poll) and "Single choice, names shown, asked by <@U0001>" in text_of(poll)
    reply = await reply_to(harness, "U0001")
    assert "Your poll is up in the thread of the *standup* room message" in reply.text
    assert "vote with its buttons" in reply.text
    stored = polls.get(harness.services.db, poll_id(poll))
    assert stored.hosted == "slack" and stored.message_ts == poll.ts
    assert not poll_posts(harness), "nothing went to Digital Samba's poll API"


async def test_single_choice_a_new_vote_replaces_the_old_and_results_redraw_in_place(harness, ada, grace, clock):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi')

    await grace.aclick(poll, ids.vote_action(0))
    first = await redrawn(harness, poll, 1)
    assert "*Pizza*\\n██████████ 100%  (1 vote)\\n_Grace Hopper_" in text_of(first)
    await ada.aclick(first, ids.vote_action(1))
    clock.later()
    await grace.aclick(first, ids.vote_action(1))  # she changes her mind
    changed = await redrawn(harness, poll, 3)
    assert "*Pizza*\\n░░░░░░░░░░ 0%  (0 votes)" in text_of(changed)
    assert "*Sushi*\\n██████████ 100%  (2 votes)\\n_Ada Lovelace, Grace Hopper_" in text_of(changed)
    assert tally(harness, poll) == {1: ["U0001", "U0002"]}, "one vote per person"

    clock.later()
    await grace.aclick(changed, ids.vote_action(1))  # her choice again: she takes it back
    back = await redrawn(harness, poll, 4)
    assert "*Sushi*\\n██████████ 100%  (1 vote)\\n_Ada Lovelace_" in text_of(back)
    assert "1 vote so far" in text_of(back)
    assert back.ts == poll.ts and len(replies(harness, room)) == 1, "always the same message"
    assert not harness.double.ephemerals("U0002"), "a named poll's voter sees her vote in the message"


async def test_multiple_choice_votes_toggle_per_option(harness, ada, grace, clock):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, 'poll standup "Which days?" Mon Tue Wed --multiple')
    await grace.aclick(poll, ids.vote_action(0))
    await grace.aclick(poll, ids.vote_action(2))
    await harness.double.wait_for(lambda: tally(harness, poll) == {0: ["U0002"], 2: ["U0002"]})
    clock.later()
    await grace.aclick(poll, ids.vote_action(0))
    await harness.double.wait_for(lambda: tally(harness, poll) == {2: ["U0002"]})
    final = await harness.double.wait_for(lambda: "1 vote so far" in text_of(now(harness, poll)) and now(harness, poll))
    assert "*Wed*\\n██████████ 100%  (1 vote)\\n_Grace Hopper_" in text_of(final)
    assert "Vote for as many options as you like" in text_of(final)


async def test_a_double_click_counts_once_and_redraws_once(harness, ada, grace):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi --multiple')
    harness.double.latency(0.1)
    responses = await asyncio.gather(grace.aclick(poll, ids.vote_action(0)), grace.aclick(poll, ids.vote_action(0)))
    assert all(r.status_code == 200 for r in responses)
    await redrawn(harness, poll, 1)
    await harness.double.wait_idle(quiet=0.4)
    assert tally(harness, poll) == {0: ["U0002"]}, "counted once, not voted and taken back"
    assert len(harness.double.history(poll.channel, poll.ts)) == 2, "posted, then redrawn once"
    assert not harness.double.ephemerals("U0002")


async def test_a_burst_of_votes_all_show_in_the_last_redraw(harness, ada):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi')
    people = []
    for n in range(20):
        user_id = f"U1{n:03d}"
        harness.double.add_user(user_id, f"person{n}", real_name=f"Person {n}")
        people.append(ada.as_user(user_id))
    harness.double.latency(0.05)
    await asyncio.gather(*(p.aclick(poll, ids.vote_action(n % 2)) for n, p in enumerate(people)))
    final = await harness.double.wait_for(lambda: "20 votes so far" in text_of(now(harness, poll)) and now(harness, poll))
    assert "*Pizza*\\n█████░░░░░ 50%  (10 votes)" in text_of(final)
    assert "and 0 more" not in text_of(final) and "Person 0" in text_of(final)
    assert len(harness.double.history(poll.channel, poll.ts)) <= 20, "votes arriving mid-redraw share a redraw"


async def test_anonymous_polls_never_show_names(harness, ada, grace, linus, clock):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi --anonymous')
    await grace.aclick(poll, ids.vote_action(0))
    await linus.aclick(poll, ids.vote_action(0))
    clock.later()
    await grace.aclick(poll, ids.vote_action(1))
    final = await harness.double.wait_for(lambda: tally(harness, poll) == {0: ["U0003"], 1: ["U0002"]}
                                          and now(harness, poll).updates >= 3 and now(harness, poll))
    assert "Single choice, anonymous" in text_of(final) and "50%  (1 vote)" in text_of(final)
    mine = await reply_to(harness, "U0002", 2)
    assert mine.text == ("Your vote for *Sushi* (instead of *Pizza*) counts. The poll is anonymous: nobody sees "
                         "who voted for what.")
    await ada.acommand("polls standup")
    listing = await harness.double.wait_for(
        lambda: next((e for e in harness.double.ephemerals("U0001") if "1 poll in standup" in e.text), None))
    assert "*Lunch today?*: open, 2 votes (single choice, anonymous)" in json.dumps(listing.blocks)
    everything = [m.text + json.dumps(m.blocks) for m in harness.double.messages("C0001")]
    everything += [e.text + json.dumps(e.blocks) for e in harness.double.ephemerals() if e.user != "U0002"]
    everything += [e.text for e in harness.double.ephemerals("U0002") if "Sushi" not in e.text]
    for name in ("Grace", "Hopper", "linus", "U0002", "U0003"):
        assert not any(name in text for text in everything), name


async def test_the_asker_or_a_moderator_closes_it_and_late_votes_are_refused(harness, ada, grace, linus):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, linus, room, f'poll standup "{LUNCH}" Pizza Sushi')  # an admin asks in ada's room
    await grace.aclick(poll, ids.vote_action(0))
    await redrawn(harness, poll, 1)

    await grace.aclick(poll, ids.POLL_CLOSE)
    refusal = await reply_to(harness, "U0002")
    assert "Only the poll's asker (<@U0003>) and the room's moderators can close it" in refusal.text
    assert not polls.get(harness.services.db, poll_id(poll)).closed

    await ada.aclick(poll, ids.POLL_CLOSE)  # the room's moderator
    closed = await harness.double.wait_for(lambda: "Closed" in text_of(now(harness, poll)) and now(harness, poll))
    assert not [b for b in closed.blocks if b["type"] == "actions"], "no buttons left"
    assert "*Closed* by <@U0001>" in text_of(closed) and "final results: *1 vote*" in text_of(closed)
    assert "*Pizza*\\n██████████ 100%  (1 vote)\\n_Grace Hopper_" in text_of(closed)

    updates = closed.updates
    await grace.aclick(poll, ids.vote_action(1))  # a late click on the message as it was
    late = await reply_to(harness, "U0002", 2)
    assert late.text == "This poll is closed: it takes no more votes. Its final results are in its message."
    await harness.double.wait_idle(quiet=0.3)
    assert tally(harness, poll) == {0: ["U0002"]} and now(harness, poll).updates == updates


async def test_a_double_click_on_close_closes_once_and_says_nothing(harness, ada):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi')
    await asyncio.gather(ada.aclick(poll, ids.POLL_CLOSE), ada.aclick(poll, ids.POLL_CLOSE))
    await redrawn(harness, poll, 1)
    await harness.double.wait_idle(quiet=0.4)
    assert len(harness.double.history(poll.channel, poll.ts)) == 2
    assert len(harness.double.ephemerals("U0001")) == 1, "only the 'poll is up' reply"


async def test_a_vote_on_a_poll_that_no_longer_exists_is_answered_in_words(harness, ada, grace):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, f'poll standup "{LUNCH}" Pizza Sushi')
    polls.delete(harness.services.db, poll_id(poll))
    await grace.aclick(poll, ids.vote_action(0))
    reply = await reply_to(harness, "U0002")
    assert "This poll no longer exists, so there is nothing to vote on" in reply.text
    assert now(harness, poll).updates == 0


async def test_free_text_polls_take_answers_in_a_small_form(harness, ada, grace, clock):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, 'poll standup "What went well?"')
    assert [e["action_id"] for e in poll.blocks[-1]["elements"]] == [ids.POLL_ANSWER, ids.POLL_CLOSE]

    form = await open_form(harness, grace, poll, ids.POLL_ANSWER)
    assert form.view["callback_id"] == ids.POLL_ANSWER_MODAL
    blank = (await grace.asubmit(form, {ids.POLL_ANSWER_BLOCK: {ids.POLL_ANSWER_INPUT: " \u200b "}})).json()
    assert blank["response_action"] == "errors" and "Write an answer" in blank["errors"][ids.POLL_ANSWER_BLOCK]
    await grace.asubmit(form, {ids.POLL_ANSWER_BLOCK: {ids.POLL_ANSWER_INPUT: "The demo"}})
    first = await redrawn(harness, poll, 1)
    assert "“The demo”\\n_Grace Hopper_" in text_of(first) and "1 answer so far" in text_of(first)

    clock.later()
    again = await open_form(harness, grace, poll, ids.POLL_ANSWER)
    assert "The demo" in json.dumps(again.view), "her answer, to change it"
    await grace.asubmit(again, {ids.POLL_ANSWER_BLOCK: {ids.POLL_ANSWER_INPUT: "The <release> demo"}})
    changed = await redrawn(harness, poll, 2)
    assert "“The &lt;release&gt; demo”" in text_of(changed) and "1 answer so far" in text_of(changed)

    late_form = await open_form(harness, ada, poll, ids.POLL_ANSWER)
    await ada.aclick(poll, ids.POLL_CLOSE)
    await redrawn(harness, poll, 3)
    late = (await ada.asubmit(late_form, {ids.POLL_ANSWER_BLOCK: {ids.POLL_ANSWER_INPUT: "Coffee"}})).json()
    assert "closed while you were writing" in late["errors"][ids.POLL_ANSWER_BLOCK]
    assert polls.answers(harness.services.db, poll_id(poll)) == [("U0002", "The <release> demo")]


async def test_anonymous_free_text_answers_show_no_names(harness, ada, grace):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, 'poll standup "What went well?" --anonymous')
    form = await open_form(harness, grace, poll, ids.POLL_ANSWER)
    assert "nobody sees who wrote what" in json.dumps(form.view)
    await grace.asubmit(form, {ids.POLL_ANSWER_BLOCK: {ids.POLL_ANSWER_INPUT: "Pairing"}})
    shown = await redrawn(harness, poll, 1)
    assert "“Pairing”" in text_of(shown) and "Grace" not in text_of(shown)


async def test_a_poll_form_submitted_after_its_room_was_deleted_says_so(harness, ada):
    room, message = await pollless_room(harness, ada)
    form = await open_form(harness, ada, message)
    del harness.services.providers.get("pollless").rooms[room.id]  # deleted at the provider meanwhile
    await ada.asubmit(form, poll_form(LUNCH, "Pizza", "Sushi"))
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: *standup* no longer exists in Pollless Meet (it was deleted there).")
    assert not replies(harness, room) and not polls.in_room(harness.services.db, room.id)


async def test_a_double_click_on_answer_opens_one_form(harness, ada, grace):
    room, _ = await pollless_room(harness, ada)
    poll = await ask(harness, ada, room, 'poll standup "What went well?"')
    harness.double.latency(0.2)
    await asyncio.gather(grace.aclick(poll, ids.POLL_ANSWER), grace.aclick(poll, ids.POLL_ANSWER))
    await harness.double.wait_idle(quiet=0.4)
    assert len(harness.double.calls_to("views.open")) == 1
    assert not harness.double.ephemerals("U0002")
