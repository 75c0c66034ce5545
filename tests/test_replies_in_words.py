"""Issue 8, "Replies in words, not the API's": what people are told, through the real app over HTTP, and
Digital Samba's field errors as sentences (never its field names or zero-based item numbers)."""

from __future__ import annotations

import re

import httpx
import pytest

from bot import ids
from bot.blocks import superseded_message_blocks
from bot.errors import ProviderGone, ProviderNotFound, ProviderRejected
from bot.providers.base import PollType, RestreamTarget, Room, RoomSpec
from bot.providers.digitalsamba.client import DigitalSambaClient, build_http
from bot.sandbox.digitalsamba import validation
from storage import rooms
from tests.test_polls import new_room, open_form, poll_form, poll_posts, replies, reply_to, text_of
from tests.test_rooms import buttons, room_messages

A_ROOM = Room(id="r-1", friendly_url="design-review", description=None, privacy="public", room_url="https://x.test/d")


# -- before any API call -------------------------------------------------------------------


async def test_an_empty_option_in_a_one_line_poll_is_named_counting_from_one(harness, ada):
    await new_room(harness, ada, "Design Review")
    await ada.acommand('poll "Design Review" "Which one?" "A" "" "B"')
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: I can't make that poll: Option 2 is empty.")
    await ada.acommand('poll "Design Review" "Which one?" "A" "\u200b" "B" " "')
    reply = await reply_to(harness, "U0001", 2)
    assert "Options 2 and 4 are empty" in reply.text, "invisible characters and spaces are no text"
    assert not poll_posts(harness), "nothing reached Digital Samba"


# -- Digital Samba's refusals --------------------------------------------------------------


def client_answering(body: dict, status: int = 422) -> DigitalSambaClient:
    http = build_http("https://ds.test/api/v1", "key", timeout=1.0,
                      transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))
    return DigitalSambaClient(http, team_id="team", developer_key="key")


def laravel(errors: dict) -> dict:
    first = next(iter(errors.values()))[0]
    return {"message": first + (" (and 1 more error)" if len(errors) > 1 else ""), "errors": errors}


# Every body the bot's calls could send wrong, as the sandbox's copy of Digital Samba's rules answers it.
BAD_POLLS = [
    {"question": "Which one?", "type": "single", "anonymous": False, "options": [{"text": "A"}, {"text": ""}, {"text": "B"}]},
    {"question": "Hm?", "type": "single", "anonymous": False, "options": [{"text": "A"}, {"text": "B"}]},
    {"question": "Which one?", "type": "single", "anonymous": False, "options": [{"text": "x" * 300}, {"text": "B"}]},
    {"question": "Which one?", "type": "sortof", "anonymous": False, "options": [{"text": "A"}, {"text": "B"}]},
    {"question": "Which one?", "type": "single", "anonymous": False},
]
BAD_STREAMS = [
    {"stream_key": "", "type": "youtube"},
    {"stream_key": "k", "server_url": "http://a.example.com/live"},
    {"stream_key": "k", "type": "youtube", "server_url": "rtmp://a.example.com/live"},
    {"stream_key": "k"},
    {"stream_key": "k", "type": "myspace"},
]
BAD_ROOMS = [
    {"friendly_url": "x", "description": "ab"},
    {"friendly_url": "not ok!", "description": "d" * 600},
]


def cases():
    for body in BAD_POLLS:
        yield "poll", validation.poll_errors(body)
    for body in BAD_STREAMS:
        yield "stream", validation.restream_errors(body)
    for body in BAD_ROOMS:
        yield "room", validation.room_errors(body, url_taken=lambda _: False, now=__import__("datetime").datetime.now(),
                                             current_roles=["moderator"], current_default_role="moderator")


@pytest.mark.parametrize("call, errors", list(cases()))
async def test_field_errors_become_sentences_without_field_names_or_zero_based_numbers(call, errors):
    assert errors, "each case is one Digital Samba refuses"
    client = client_answering(laravel(errors))
    with pytest.raises(ProviderRejected) as info:
        if call == "poll":
            await client.create_poll(A_ROOM, question="Which one?", type=PollType.SINGLE, anonymous=False, options=["A"])
        elif call == "stream":
            await client.start_restream(A_ROOM, RestreamTarget(label="YouTube", stream_key="k", type="youtube"))
        else:
            await client.create_room(RoomSpec(name="x", slug="x", description="x", private=False, external_id="e"))
    said = info.value.user_message
    assert said.startswith("Digital Samba said no: ")
    for field_name in errors:
        if "_" in field_name or "." in field_name:  # an identifier, not a word
            assert field_name not in said, field_name
    assert "friendly url" not in said.lower() and "description" not in said.lower(), "Digital Samba's names"
    assert not re.search(r"\b\w+\.\d+", said), "no dotted field paths"
    assert "Option 0" not in said and "option 0" not in said
    await client.aclose()


async def test_an_empty_option_refused_by_digital_samba_reads_option_2():
    client = client_answering(laravel({"options.1.text": ["The options.1.text field is required."]}))
    with pytest.raises(ProviderRejected) as info:
        await client.create_poll(A_ROOM, question="Which one?", type=PollType.SINGLE, anonymous=False,
                                 options=["A", "", "B"])
    assert info.value.user_message == "Digital Samba said no: Option 2 is empty."
    await client.aclose()


async def test_no_live_session_means_the_meeting_is_over():
    client = client_answering({"message": "The room has no live session."})
    with pytest.raises(ProviderGone):
        await client.start_restream(A_ROOM, RestreamTarget(label="YouTube", stream_key="k", type="youtube"))
    await client.aclose()


async def test_a_digital_samba_404_names_what_is_missing_not_its_not_found():
    """Digital Samba's 404 body is `{"message": "Not Found"}` (its OpenAPI): shown as it came, a person read
    ":warning: Not Found". It now says what is gone, by what the request was about."""
    client = client_answering({"message": "Not Found", "error": "not-found"}, status=404)
    with pytest.raises(ProviderNotFound) as room_gone:
        await client.start_recording(A_ROOM)
    with pytest.raises(ProviderNotFound) as poll_gone:
        await client.poll_results(A_ROOM, "p-1")
    assert room_gone.value.user_message.startswith("Digital Samba no longer has this room: it may have been "
                                                   "deleted there. If it was, `/meet delete`")
    assert poll_gone.value.user_message.startswith("Digital Samba no longer has this poll (or its room)")
    assert "Not Found" not in room_gone.value.user_message + poll_gone.value.user_message
    await client.aclose()


@pytest.mark.parametrize("command", ["record standup", "end standup"])
async def test_a_room_deleted_in_digital_samba_is_said_so_by_record_and_end(harness, ada, sandbox, command):
    """They said Digital Samba's own "Room not found." (the real API: "Not Found"), and the room stayed open."""
    room, _ = await new_room(harness, ada)
    deleted = await sandbox.delete(f"/api/v1/rooms/{room.id}",
                                   headers={"Authorization": f"Bearer {harness.sandbox_state.developer_key}"})
    assert deleted.status_code == 204
    await ada.acommand(command)
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: *standup* no longer exists in Digital Samba (it was deleted there).")
    assert "not found" not in reply.text.lower()
    assert rooms.get(harness.services.db, room.id).status == "deleted"


async def delete_in_digital_samba(harness, sandbox, room) -> None:
    deleted = await sandbox.delete(f"/api/v1/rooms/{room.id}",
                                   headers={"Authorization": f"Bearer {harness.sandbox_state.developer_key}"})
    assert deleted.status_code == 204


async def test_meet_delete_removes_a_room_already_deleted_in_digital_samba(harness, ada, sandbox):
    """It answered "Digital Samba no longer has this room ... `/meet delete` removes it here too", every time:
    the one way out was a dead end."""
    room, _ = await new_room(harness, ada)
    await delete_in_digital_samba(harness, sandbox, room)
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    await ada.asubmit(form)
    reply = await reply_to(harness, "U0001")
    assert reply.text == "*standup* was already gone from Digital Samba; I've deleted it here too."
    assert rooms.get(harness.services.db, room.id).status == "deleted"
    assert "no longer exists" in str(room_messages(harness)[-1].blocks)


async def test_a_404_for_everything_deletes_nothing(harness, ada, sandbox):
    """A platform (or a proxy in front of it) answering 404 to every request has not deleted the room."""
    room, message = await new_room(harness, ada)
    (await sandbox.put("/_sandbox/faults", json={"status": 404})).raise_for_status()
    await ada.aclick(message, ids.JOIN)
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: Digital Samba isn't answering as it should right now.")
    assert rooms.get(harness.services.db, room.id).status != "deleted"


async def test_a_404_no_command_expected_is_said_as_the_room_being_gone(harness, ada, sandbox):
    """`/meet summary` (like Go live and OpenTalk's recordings) had no words for its room being gone: the error
    boundary now checks the room the command acted on."""
    room, _ = await new_room(harness, ada)
    await delete_in_digital_samba(harness, sandbox, room)
    await ada.acommand("summary standup")
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: *standup* no longer exists in Digital Samba (it was deleted there).")
    assert rooms.get(harness.services.db, room.id).status == "deleted"


# -- forms submitted too late -----------------------------------------------------------------


async def test_a_go_live_form_submitted_after_the_meeting_ended_says_so_in_words(harness, ada, sandbox):
    _, message = await new_room(harness, ada)
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    form = await open_form(harness, ada, message, ids.GO_LIVE)
    assert (await sandbox.post("/_sandbox/rooms/standup/end")).status_code < 300  # the meeting ends meanwhile
    await ada.asubmit(form, {ids.RESTREAM_DESTINATION_BLOCK: {ids.RESTREAM_DESTINATION: "youtube"},
                             ids.RESTREAM_KEY_BLOCK: {ids.RESTREAM_KEY: "a-stream-key"}})
    reply = await reply_to(harness, "U0001")
    assert reply.text == (":warning: The meeting in *standup* has ended, so there is nothing to stream; start it "
                          "again (join the room) and Go live.")
    assert "a-stream-key" not in reply.text


async def test_a_poll_form_submitted_after_its_room_was_deleted_in_digital_samba(harness, ada, sandbox):
    room, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message)
    deleted = await sandbox.delete(f"/api/v1/rooms/{room.id}",
                                   headers={"Authorization": f"Bearer {harness.sandbox_state.developer_key}"})
    assert deleted.status_code == 204
    await ada.asubmit(form, poll_form("Where shall we go for lunch?", "Pizza", "Sushi"))
    reply = await reply_to(harness, "U0001")
    assert reply.text.startswith(":warning: *standup* no longer exists in Digital Samba (it was deleted there).")
    assert rooms.get(harness.services.db, room.id).status == "deleted"
    assert "no longer exists" in str(room_messages(harness)[0].blocks) or \
        "no longer exists" in str(harness.double.history(message.channel, message.ts)[-1].blocks)


async def test_a_poll_form_for_a_room_meetops_forgot_says_so_without_its_id(harness, ada):
    room, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message)
    harness.services.db.execute("delete from rooms where id = ?", [room.id])
    harness.sandbox_state.rooms.pop(room.id)
    await ada.asubmit(form, poll_form("Where shall we go for lunch?", "Pizza", "Sushi"))
    reply = await reply_to(harness, "U0001")
    assert "The room this poll was for no longer exists" in reply.text and room.id not in reply.text


# -- where a poll is launched ----------------------------------------------------------------


async def test_a_digital_samba_poll_says_it_is_launched_from_the_meetings_polls_panel(harness, ada):
    room, _ = await new_room(harness, ada)
    await ada.acommand('poll standup "Lunch today?" Pizza Sushi')
    posted = await harness.double.wait_for(lambda: next(iter(replies(harness, room)), None))
    assert "launches it from the *Polls* panel in the Digital Samba meeting" in text_of(posted)
    assert "until then it shows as not started yet" in text_of(posted)
    reply = await reply_to(harness, "U0001")
    assert "launch it from the *Polls* panel in the Digital Samba meeting" in reply.text


# -- /meet post ------------------------------------------------------------------------------


async def test_post_reposts_the_room_message_here_and_the_older_one_points_to_it(harness, ada, grace):
    room, first = await new_room(harness, ada)
    await grace.acommand("post standup")  # anyone may bring it back where it lives
    again = await harness.double.wait_for(
        lambda: next((m for m in room_messages(harness) if m.ts != first.ts), None))
    assert again.blocks[0]["text"]["text"] == "standup" and ids.JOIN in buttons(again)
    older = await harness.double.wait_for(
        lambda: (m := harness.double.history(first.channel, first.ts)[-1]).updates and m)
    assert "has a newer message below" in str(older.blocks)
    stored = rooms.get(harness.services.db, room.id)
    assert (stored.message_channel, stored.message_ts) == ("C0001", again.ts)
    reply = await reply_to(harness, "U0002")
    assert reply.text == "Posted the room message of *standup* here again. The older one now points to it."


async def test_only_a_moderator_moves_the_room_message_to_another_channel(harness, ada, grace):
    room, first = await new_room(harness, ada)
    await grace.as_user("U0002", channel_id="C0002", channel_name="random").acommand("post standup")
    refusal = await reply_to(harness, "U0002")
    assert ("*standup*'s room message is in <#C0001>, and only the room's moderators can move it to another "
            "channel") in refusal.text and "Ask <@U0001>" in refusal.text
    assert not harness.double.messages("C0002")
    assert rooms.get(harness.services.db, room.id).message_channel == "C0001"

    await ada.as_user("U0001", channel_id="C0002", channel_name="random").acommand("post standup")
    moved = await harness.double.wait_for(lambda: next(iter(harness.double.messages("C0002")), None))
    older = await harness.double.wait_for(
        lambda: (m := harness.double.history(first.channel, first.ts)[-1]).updates and m)
    assert older.blocks == superseded_message_blocks(room, "C0002")
    assert "has a newer message in <#C0002>" in str(older.blocks)
    assert rooms.get(harness.services.db, room.id).message_ts == moved.ts


async def test_post_keeps_a_private_room_in_its_channel_and_needs_a_room(harness, ada):
    await ada.acommand("new board --private")
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.as_user("U0001", channel_id="C0002", channel_name="random").acommand("post board")
    await ada.acommand("post")
    refusal = await reply_to(harness, "U0001")
    usage = await reply_to(harness, "U0001", 2)
    assert "private to <#C0001>, so its room message stays there" in refusal.text
    assert "Which room?" in usage.text
    assert not harness.double.messages("C0002")


def test_the_readme_states_the_limits_the_code_checks():
    from pathlib import Path

    from bot import names, poll_blocks

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"{names.MIN_LENGTH}–{names.MAX_LENGTH} characters once cleaned" in readme
    assert f"at least {poll_blocks.MIN_QUESTION} characters (at most {poll_blocks.MAX_QUESTION})" in readme
    assert (f"{poll_blocks.MIN_OPTIONS}–{poll_blocks.MAX_OPTIONS} options of at\n  most {poll_blocks.MAX_OPTION} "
            "characters") in readme
    assert "`../shared/contracts/`" in readme


async def test_upcoming_does_not_suggest_scheduling_where_no_platform_here_can(harness, ada):
    await ada.acommand("upcoming")
    reply = await reply_to(harness, "U0001")
    assert reply.text == ("No meetings are scheduled in this channel. None of the meeting platforms set up here can "
                          "schedule meetings.")


@pytest.mark.parametrize("words, answer", [
    ('new baz --provider "Digital Samba"', None),  # by its title: made on Digital Samba
    ("new baz --provider zoom", "I don't know the provider `zoom`. Available here: `digitalsamba`."),
    ("new baz --provider eyeson", "Eyeson is not set up here. Available here: `digitalsamba`."),
])
async def test_a_provider_is_found_by_its_title_and_refusals_list_only_what_is_here(harness, ada, words, answer):
    await ada.acommand(words)
    if answer is None:
        await harness.double.wait_for(lambda: room_messages(harness))
        assert rooms.find(harness.services.db, "T0001", "baz").provider == "digitalsamba"
    else:
        assert (await reply_to(harness, "U0001")).text == f":warning: {answer}"
