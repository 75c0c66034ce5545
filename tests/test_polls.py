"""Polls through the real app over HTTP: the form, the one-line command, results in place, who may ask."""

from __future__ import annotations

import asyncio
import json

from bot import ids
from bot.poll_blocks import option_block
from bot.sandbox.digitalsamba.models import Faults
from storage import polls, rooms
from tests.test_rooms import buttons, room_messages

QUESTION = "Where shall we go for lunch?"


async def new_room(harness, user, name="standup"):
    await user.acommand(f"new {name}")
    await harness.double.wait_for(lambda: room_messages(harness))
    room = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", name)) and r.message_ts and r)
    message = next(m for m in room_messages(harness) if m.ts == room.message_ts)
    return room, message


async def open_form(harness, user, message, action_id=ids.POLL):
    before = len(harness.double.views)
    await user.aclick(message, action_id)
    return await harness.double.wait_for(lambda: len(harness.double.views) > before and harness.double.views[-1])


def poll_form(question, *options, type_="single", votes="named") -> dict:
    values = {ids.POLL_QUESTION_BLOCK: {ids.POLL_QUESTION: question},
              ids.POLL_TYPE_BLOCK: {ids.POLL_TYPE: type_},
              ids.POLL_ANONYMOUS_BLOCK: {ids.POLL_ANONYMOUS: votes}}
    for n, text in enumerate(options, 1):
        values[option_block(n)] = {ids.POLL_OPTION: text}
    return values


def replies(harness, room):
    return [m for m in harness.double.thread(room.message_channel, room.message_ts) if m.thread_ts]


def text_of(message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def poll_posts(harness):
    return [r for r in harness.sandbox_state.requests_matching("POST", "/polls")]


async def reply_to(harness, user_id, n=1):
    return (await harness.double.wait_for(lambda: len(harness.double.ephemerals(user_id)) >= n
                                          and harness.double.ephemerals(user_id)))[n - 1]


async def test_the_poll_form_creates_the_poll_and_posts_it_in_the_rooms_thread(harness, ada):
    room, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message)
    assert form.view["callback_id"] == ids.POLL_MODAL
    assert json.loads(form.view["private_metadata"]) == {"channel": "C0001", "room": room.id}

    response = await ada.asubmit(form, poll_form(QUESTION, "Pizza", "", "Sushi"))
    assert response.status_code == 200 and not response.content, "the form closes"
    poll_message = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    assert QUESTION in text_of(poll_message) and "• Pizza\\n• Sushi" in text_of(poll_message)
    assert ids.POLL_RESULTS in buttons(poll_message)
    [request] = poll_posts(harness)
    assert request.json == {"question": QUESTION, "type": "single", "anonymous": False,
                            "options": [{"text": "Pizza"}, {"text": "Sushi"}]}
    poll_id = buttons(poll_message)[ids.POLL_RESULTS]["value"]
    stored = await harness.double.wait_for(lambda: (p := polls.get(harness.services.db, poll_id)) and p.message_ts and p)
    assert stored.message_ts == poll_message.ts and stored.options == ["Pizza", "Sushi"]
    assert "Your poll is up" in (await reply_to(harness, "U0001")).text


async def test_the_form_points_at_the_field_at_fault_and_calls_nothing(harness, ada):
    _, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message)
    cases = [
        (poll_form("Hm?", "Pizza", "Sushi"), ids.POLL_QUESTION_BLOCK, "at least 5 characters"),
        (poll_form(QUESTION, "Pizza", "pizza"), option_block(2), "already an option"),
        (poll_form(QUESTION, "Pizza"), option_block(2), "at least 2 options"),
        (poll_form(QUESTION, type_="multiple"), option_block(1), "at least 2 options"),
        (poll_form(QUESTION, "Pizza", type_="free"), option_block(1), "takes no options"),
        (poll_form(QUESTION, "x" * 300, "y"), option_block(1), "255 characters"),
    ]
    for values, block, says in cases:
        answer = (await ada.asubmit(form, values)).json()
        assert answer["response_action"] == "errors" and list(answer["errors"]) == [block], values
        assert says in answer["errors"][block]
    assert not poll_posts(harness)


async def test_one_line_polls_with_straight_or_curly_quotes(harness, ada):
    room, _ = await new_room(harness, ada)
    await ada.acommand('poll standup "Lunch today?" "Pizza" "Sushi"')
    await ada.acommand("poll standup \u201cLunch tomorrow?\u201d \u201cPizza place\u201d \u201cSushi\u201d --anonymous")
    await ada.acommand("poll standup \u201cWhat went well?\u201d")
    await ada.acommand('poll standup "Which days?" Mon Tue Wed --multiple')
    await harness.double.wait_for(lambda: len(replies(harness, room)) == 4)
    sent = sorted((r.json for r in poll_posts(harness)), key=lambda body: body["question"])
    assert sent == [
        {"question": "Lunch today?", "type": "single", "anonymous": False, "options": [{"text": "Pizza"}, {"text": "Sushi"}]},
        {"question": "Lunch tomorrow?", "type": "single", "anonymous": True,
         "options": [{"text": "Pizza place"}, {"text": "Sushi"}]},
        {"question": "What went well?", "type": "free", "anonymous": False, "options": []},
        {"question": "Which days?", "type": "multiple", "anonymous": False,
         "options": [{"text": "Mon"}, {"text": "Tue"}, {"text": "Wed"}]},
    ]


async def test_a_bad_one_line_poll_is_explained_and_not_sent(harness, ada):
    await new_room(harness, ada)
    await ada.acommand('poll standup "Hm?" "Pizza"')
    reply = await reply_to(harness, "U0001")
    assert "at least 5 characters" in reply.text and "at least 2 options" in reply.text
    assert not poll_posts(harness)


async def test_results_update_the_poll_message_in_place(harness, ada, grace, sandbox):
    room, _ = await new_room(harness, ada)
    await ada.acommand(f'poll standup "{QUESTION}" Pizza Sushi Tacos')
    poll_message = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    poll_id = buttons(poll_message)[ids.POLL_RESULTS]["value"]
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    for option, voter in (("Pizza", "Grace"), ("Sushi", "Ada"), ("Pizza", "Linus")):
        assert (await sandbox.post(f"/_sandbox/polls/{poll_id}/votes",
                                   json={"option": option, "voter": voter})).status_code == 200

    await grace.aclick(poll_message, ids.POLL_RESULTS)  # anyone may look
    updated = await harness.double.wait_for(
        lambda: next((m for m in replies(harness, room) if m.updates), None))
    text = text_of(updated)
    assert "*Pizza*\\n███████░░░ 67%  (2 votes)\\n_Grace, Linus_" in text
    assert "*Sushi*\\n███░░░░░░░ 33%  (1 vote)\\n_Ada_" in text
    assert "░░░░░░░░░░ 0%  (0 votes)" in text and "3 votes in total" in text
    assert updated.ts == poll_message.ts and len(replies(harness, room)) == 1, "no new message"


async def test_anonymous_results_say_when_nobody_voted_and_never_name_anyone(harness, ada, sandbox):
    room, _ = await new_room(harness, ada)
    await ada.acommand('poll standup "Lunch today?" Pizza Sushi --anonymous')
    poll_message = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    await ada.aclick(poll_message, ids.POLL_RESULTS)
    first = await harness.double.wait_for(lambda: next((m for m in replies(harness, room) if m.updates), None))
    assert "No votes yet" in text_of(first)
    poll_id = buttons(poll_message)[ids.POLL_RESULTS]["value"]
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await sandbox.post(f"/_sandbox/polls/{poll_id}/votes", json={"option": "Sushi", "voter": "Grace"})
    await ada.aclick(first, ids.POLL_RESULTS)
    second = await harness.double.wait_for(lambda: next((m for m in replies(harness, room) if m.updates == 2), None))
    assert "100%  (1 vote)" in text_of(second) and "Grace" not in text_of(second)


async def test_a_double_click_on_results_makes_one_call_and_one_update(harness, ada):
    room, _ = await new_room(harness, ada)
    await ada.acommand('poll standup "Lunch today?" Pizza Sushi')
    poll_message = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    harness.sandbox_state.faults = Faults(latency_ms=300, paths=f"/rooms/{room.id}/polls")
    await asyncio.gather(ada.aclick(poll_message, ids.POLL_RESULTS), ada.aclick(poll_message, ids.POLL_RESULTS))
    await harness.double.wait_for(lambda: any(m.updates for m in replies(harness, room)))
    await harness.double.wait_idle(quiet=0.4)
    assert len(harness.sandbox_state.requests_matching("GET", "/results")) == 1
    assert len(harness.double.history(poll_message.channel, poll_message.ts)) == 2, "posted, then updated once"
    assert [e.text for e in harness.double.ephemerals("U0001")] == [
        "Your poll is up in the thread of the *standup* room message. To open voting, launch it from the *Polls* "
        "panel in the Digital Samba meeting."], "the clicks said nothing more"


async def test_only_moderators_may_create_polls(harness, ada, grace, linus):
    room, message = await new_room(harness, ada)
    await grace.aclick(message, ids.POLL)
    refusal = await reply_to(harness, "U0002")
    assert "Only the room's moderators can create polls" in refusal.text and "<@U0001>" in refusal.text
    assert not harness.double.calls_to("views.open"), "no form for her"

    await grace.acommand('poll standup "Lunch today?" Pizza Sushi')
    await grace.acommand("poll standup")
    await reply_to(harness, "U0002", 3)

    # A form opened by a moderator and submitted by someone else is checked again.
    form = await open_form(harness, ada, message)
    answer = (await grace.asubmit(form, poll_form(QUESTION, "Pizza", "Sushi"))).json()
    assert answer["response_action"] == "update"
    assert "Only the room's moderators can create polls" in json.dumps(answer["view"])
    assert not poll_posts(harness)

    await linus.acommand('poll standup "Lunch today?" Pizza Sushi')  # an admin
    await harness.double.wait_for(lambda: replies(harness, room))
    assert len(poll_posts(harness)) == 1


async def test_polls_lists_the_rooms_polls_with_their_status(harness, ada, sandbox):
    room, _ = await new_room(harness, ada)
    await ada.acommand('poll standup "Lunch today?" Pizza Sushi')
    await ada.acommand('poll standup "What went well?" --anonymous')
    await harness.double.wait_for(lambda: len(replies(harness, room)) == 2)
    lunch = next(p for p in polls.in_room(harness.services.db, room.id).values() if p.question == "Lunch today?")
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await sandbox.post(f"/_sandbox/polls/{lunch.id}/votes", json={"option": "Pizza", "voter": "Grace"})
    await ada.acommand("polls standup")
    listing = await harness.double.wait_for(
        lambda: next((e for e in harness.double.ephemerals("U0001") if "polls in" in e.text), None))
    shown = str(listing.blocks)
    assert "*2 polls in standup*" in listing.text
    assert "*Lunch today?*: running (single choice)" in shown
    assert ("*What went well?*: not started yet (free text, anonymous); launch it from the *Polls* panel in the "
            "Digital Samba meeting") in shown


async def test_a_poll_the_api_refuses_is_explained_with_its_reason(harness, ada):
    room, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message)
    harness.sandbox_state.faults = Faults(status=422, count=1, paths=f"/rooms/{room.id}/polls")
    await ada.asubmit(form, poll_form(QUESTION, "Pizza", "Sushi"))
    reply = await reply_to(harness, "U0001")
    assert reply.text == ":warning: Digital Samba said no: Sandbox fault."
    assert not replies(harness, room) and not polls.in_room(harness.services.db, room.id)


async def test_results_of_a_deleted_rooms_poll_say_the_room_was_deleted(harness, ada, grace):
    room, _ = await new_room(harness, ada)
    await ada.acommand(f'poll standup "{QUESTION}" Pizza Sushi')
    poll_message = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    await ada.asubmit(form)
    await harness.double.wait_for(lambda: rooms.get(harness.services.db, room.id).status == "deleted")
    await grace.aclick(poll_message, ids.POLL_RESULTS)
    reply = await reply_to(harness, "U0002")
    # Not Digital Samba's "Room not found.": what happened, in the person's words.
    assert reply.text == ":warning: *standup* was deleted, and its poll results with it."


async def test_a_room_name_with_spaces_opens_the_poll_form_without_quotes(harness, ada):
    """Every other command takes `Design Review` unquoted; /meet poll asked for quotes instead of opening the form."""
    await ada.acommand('new "Design Review"')
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand("poll Design Review")
    view = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    assert "Design Review" in json.dumps(view.view if hasattr(view, "view") else view, default=str)
    # Words that are no room still get the one-line hint.
    await ada.acommand("poll Design Review Where shall we eat?")
    reply = await reply_to(harness, "U0001")
    assert "put the question and each option in quotes" in reply.text


async def test_a_poll_the_platform_made_too_late_is_pointed_to_not_asked_for_twice(harness, ada, sandbox):
    """Digital Samba answers after meetops stopped waiting (2 s): the poll exists there, and the person is told
    where to look before asking again (which would make a second one)."""
    room, _ = await new_room(harness, ada)
    (await sandbox.put("/_sandbox/faults", json={"latency_ms": 3000, "paths": f"/rooms/{room.id}/polls"})
     ).raise_for_status()
    await ada.acommand('poll standup "Lunch today?" Pizza Sushi')
    late = await reply_to(harness, "U0001")
    assert "The poll may have been made anyway: `/meet polls standup` lists the room's polls" in late.text
    (await sandbox.delete("/_sandbox/faults")).raise_for_status()
    await harness.double.wait_for(lambda: harness.sandbox_state.polls)
    await ada.acommand("polls standup")
    listing = await reply_to(harness, "U0001", 2)
    assert "Lunch today?" in str(listing.blocks) + listing.text
