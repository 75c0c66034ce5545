"""`/meet`, `/meet new`, Join, `/meet rooms`, `/meet live`, `/meet end` through the real app over HTTP."""

from __future__ import annotations

import jwt
import pytest

from bot import ids
from storage import rooms


def room_messages(harness, channel="C0001"):
    return [m for m in harness.double.messages(channel) if not m.thread_ts]


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def written(harness, name: str, team: str = "T0001"):
    """The room once it knows where its message is: the room is written down before its message goes out,
    and the message's place once Slack has answered, so a test that saw the message may be a moment early."""
    return await harness.double.wait_for(lambda: (r := rooms.find(harness.services.db, team, name)) and r.message_ts and r)


def link_from(ephemeral) -> str:
    return next(b["accessory"]["url"] for b in ephemeral.blocks if b.get("accessory", {}).get("url"))


async def test_meet_new_creates_a_room_and_posts_its_message(harness, ada):
    response = await ada.acommand("new Design Review")
    assert response.status_code == 200
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    assert message.blocks[0]["text"]["text"] == "Design Review"
    text = str(message.blocks)
    assert "Public" in text and "<@U0001>" in text and "`design-review`" in text
    assert set(buttons(message)) >= {ids.JOIN, ids.POLL, ids.GO_LIVE, ids.END}
    room = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", "design-review")) and r.message_ts and r)
    assert room.message_ts == message.ts and room.description == "Design Review"
    created = harness.sandbox_state.rooms[room.id]
    assert created.friendly_url == "design-review" and created.privacy == "public"


async def test_private_room_and_name_collisions_get_a_suffix(harness, ada):
    await ada.acommand("new standup")
    await ada.as_user("U0001", channel_id="C0002", channel_name="random").acommand("new standup private")
    await harness.double.wait_for(lambda: len(room_messages(harness)) + len(harness.double.messages("C0002")) == 2)
    await written(harness, "standup")
    await written(harness, "standup-2")
    urls = sorted(r.friendly_url for r in rooms.of_team(harness.services.db, "T0001").values())
    assert urls == ["standup", "standup-2"]
    private = rooms.find(harness.services.db, "T0001", "standup-2")
    assert private.privacy == "private" and private.channel_id == "C0002"
    assert "Private" in str(harness.double.messages("C0002")[-1].blocks)


async def test_the_same_name_again_in_a_channel_brings_that_room_back(harness, ada):
    await ada.acommand('new "Design Review"')
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await ada.acommand('new "design review"')  # any case
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)
    assert len(rooms.in_channel(harness.services.db, "T0001", "C0001")) == 1, "no silent twin"
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "already exists" in e.text), None))
    assert "posted its room message again" in reply.text


async def test_asking_for_a_private_room_under_a_public_rooms_name_says_it_stays_public(harness, ada):
    await ada.acommand('new "Design Review"')
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await ada.acommand('new "Design Review" --private')
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "already exists" in e.text), None))
    assert "It stays public, as it was made" in reply.text
    assert '`/meet new "Design Review (private)" --private`' in reply.text
    assert not rooms.find(harness.services.db, "T0001", "Design Review").private


async def test_private_is_accepted_anywhere_as_a_flag(harness, ada):
    await ada.acommand("new --private secret plans")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    room = await written(harness, "secret plans")
    assert room.private and room.name == "secret plans"
    assert "Private" in str(room_messages(harness)[-1].blocks)


async def test_plain_meet_reuses_the_channel_room(harness, ada, grace):
    await ada.acommand("")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await grace.acommand("")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)
    second = room_messages(harness)[1]
    assert second.blocks[0]["text"]["text"] == "general"
    first = await harness.double.wait_for(lambda: (m := room_messages(harness)[0]).updates and m)
    assert "newer message below" in str(first.blocks), "the older message points to the current one"
    assert first.blocks[0]["accessory"]["value"] == buttons(second)[ids.JOIN]["value"], "same room both times"
    assert len(harness.sandbox_state.rooms) == 1


async def test_join_gives_each_person_their_own_link_only_to_them(harness, ada, grace):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await grace.aclick(message, ids.JOIN)
    await ada.aclick(message, ids.JOIN)
    grace_reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    ada_reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    key = harness.sandbox_state.developer_key
    room = rooms.find(harness.services.db, "T0001", "standup")
    grace_claims = jwt.decode(link_from(grace_reply).split("token=")[1], key, algorithms=["HS256"])
    ada_claims = jwt.decode(link_from(ada_reply).split("token=")[1], key, algorithms=["HS256"])
    assert grace_claims["role"] == "attendee" and ada_claims["role"] == "moderator", "the creator moderates"
    assert grace_claims["u"] == "Grace Hopper" or grace_claims["u"] == "grace"
    assert grace_claims["rd"] == room.id and grace_claims["td"] == harness.sandbox_state.team_id
    assert grace_claims["ud"] == "T0001:U0002"
    assert grace_claims["exp"] - grace_claims["iat"] == 4 * 3600
    # The link never reaches the channel.
    token = link_from(grace_reply).split("token=")[1]
    assert all(token not in str(m.blocks) + m.text for m in harness.double.messages())


async def test_admins_join_as_moderators(harness, ada, linus):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await linus.acommand("join standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0003")), None))
    claims = jwt.decode(link_from(reply).split("token=")[1], harness.sandbox_state.developer_key,
                        algorithms=["HS256"])
    assert claims["role"] == "moderator"


async def test_join_link_lets_the_person_into_the_private_room(harness, ada, grace):
    import httpx

    await ada.acommand("new secret-plans private")
    await harness.double.wait_for(lambda: room_messages(harness))
    await grace.acommand("join secret-plans")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    async with httpx.AsyncClient() as web:
        without = await web.get(link_from(reply).split("?")[0])
        with_token = await web.get(link_from(reply))
    assert without.status_code == 403
    assert with_token.status_code == 200
    assert len(harness.sandbox_state.live_participants(rooms.find(harness.services.db, "T0001", "secret-plans").id)) == 1


async def test_join_falls_back_to_a_dm_when_no_ephemeral_can_be_delivered(harness, ada, grace):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    harness.double.fail_response_urls(status=404)
    harness.double.fail("chat.postEphemeral", "user_not_in_channel")
    await grace.aclick(message, ids.JOIN)
    dm = await harness.double.wait_for(lambda: next(iter(harness.double.dms("U0002")), None))
    assert "token=" in str(dm.blocks)
    assert not harness.double.ephemerals("U0002")


async def test_join_by_uuid_name_or_link_name(harness, ada, grace):
    await ada.acommand("new Design Review")
    room = await written(harness, "design-review")
    for ref in (room.id, "design-review", '"design review"'):
        await grace.acommand(f"join {ref}")
    replies = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0002")) == 3 and
                                            harness.double.ephemerals("U0002"))
    assert all("token=" in str(r.blocks) for r in replies)


async def test_a_room_asked_for_while_its_message_is_being_answered_is_found(harness, ada, grace):
    """The room message is in the channel before the bot has Slack's answer: a /meet join in that moment
    finds the room (it is written down before its message goes out)."""
    harness.double.hold("chat.postMessage", 1.0, stage="after")
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await grace.acommand("join standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None), 5)
    assert "token=" in str(reply.blocks), reply.text
    assert (await written(harness, "standup")).message_ts, "and the room then knows where its message is"


async def test_rooms_lists_every_page(harness, ada, sandbox):
    headers = {"Authorization": f"Bearer {harness.sandbox_state.developer_key}"}
    for i in range(130):
        r = await sandbox.post("/api/v1/rooms", json={"friendly_url": f"extra-room-{i:03d}"}, headers=headers)
        assert r.status_code == 200
    await ada.acommand("rooms")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert reply.text.startswith("*130 rooms*")
    assert "extra-room-000" in str(reply.blocks) and "extra-room-129" in str(reply.blocks)
    assert len(harness.sandbox_state.requests_matching("GET", "/api/v1/rooms")) == 2, "100 + 30"


async def test_live_lists_rooms_with_people_in_them(harness, ada, sandbox):
    await ada.acommand("new standup")
    await ada.acommand("new retro")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 2)
    for name in ("Ada", "Grace", "Linus"):
        await sandbox.post("/_sandbox/rooms/standup/join", json={"name": name})
    await ada.acommand("live")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    shown = str(reply.blocks)
    assert "standup" in shown and "3 people" in shown and "retro" not in shown


async def test_end_ends_the_session_and_updates_the_room_message(harness, ada, sandbox):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace", "count": 2})
    await ada.acommand("end standup")
    message = await harness.double.wait_for(
        lambda: next((m for m in room_messages(harness) if "Ended" in str(m.blocks)), None))
    assert "2 people took part" in str(message.blocks) and "ended by <@U0001>" in str(message.blocks)
    assert ids.SUMMARY in buttons(message) and ids.END not in buttons(message)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "has ended" in reply.text
    assert not harness.sandbox_state.live_sessions()


async def test_only_moderators_may_end(harness, ada, grace, sandbox):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
    await grace.aclick(message, ids.END)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    assert "Only the room's moderators" in reply.text
    assert harness.sandbox_state.live_sessions(), "nothing was ended"
    assert not harness.sandbox_state.requests_matching("POST", "/end")


async def test_end_with_nobody_in_the_room_says_so(harness, ada):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand("end standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "Nobody is in" in reply.text


async def test_help_and_unknown_subcommands_list_every_subcommand(harness, ada):
    await ada.acommand("help")
    await ada.acommand("frobnicate now")
    replies = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) == 2 and
                                            harness.double.ephemerals("U0001"))
    for reply in replies:
        for sub in ("/meet new", "/meet join", "/meet rooms", "/meet live", "/meet end", "/meet help"):
            assert sub in reply.text
    assert "I don't know `frobnicate`" in replies[1].text


async def test_restart_keeps_join_buttons_working(harness, ada, grace):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await harness.stop_bot()
    await harness.start_bot()
    grace = grace.__class__(harness.events_url, grace.signing_secret, harness.double, user_id="U0002")
    await grace.aclick(message, ids.JOIN)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    assert "token=" in str(reply.blocks)
    await grace.aclose()


async def test_private_rooms_belong_to_their_channel(harness, ada, grace, linus):
    in_random = ada.as_user("U0001", channel_id="C0002", channel_name="random")
    await in_random.acommand("new board-talks private")
    await harness.double.wait_for(lambda: room_messages(harness, "C0002"))
    await grace.acommand("join board-talks")  # from #general
    await grace.acommand("rooms")
    refusal = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    assert "can't find a room called `board-talks`" in refusal.text and "token=" not in str(refusal.blocks)
    listing = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0002")) == 2 and
                                            harness.double.ephemerals("U0002")[1])
    assert "board-talks" not in str(listing.blocks)
    await grace.as_user("U0002", channel_id="C0002", channel_name="random").acommand("join board-talks")
    await linus.acommand("join board-talks")  # an admin moderates every room
    await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0002")) == 3)
    assert "token=" in str(harness.double.ephemerals("U0002")[2].blocks)
    assert "token=" in str((await harness.double.wait_for(lambda: harness.double.ephemerals("U0003")))[0].blocks)


async def test_a_private_room_hidden_here_does_not_hide_a_public_room_of_the_same_name(harness, ada, grace):
    await ada.as_user("U0001", channel_id="C0002", channel_name="random").acommand("new secret --private")
    await harness.double.wait_for(lambda: room_messages(harness, "C0002"))
    await ada.acommand("new secret")  # public, in #general: link name secret-2
    await harness.double.wait_for(lambda: room_messages(harness))
    public = rooms.find(harness.services.db, "T0001", "secret-2")
    # From a third channel, where the private room doesn't exist: the name finds the public one.
    await grace.as_user("U0002", channel_id="C0003", channel_name="other").acommand("join secret")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    assert jwt.decode(link_from(reply).split("token=")[1], options={"verify_signature": False})["rd"] == public.id


@pytest.mark.parametrize("typed", ["Design  Review", "Design\u00a0Review", "Design Review\u200b", "  design review "])
async def test_a_room_is_found_by_its_name_however_the_spaces_were_pasted(harness, ada, typed):
    await ada.acommand('new "Design Review"')
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand(f'join "{typed}"')
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "token=" in str(reply.blocks), reply.text


async def test_a_name_means_this_channels_room_first(harness, ada):
    in_random = ada.as_user("U0001", channel_id="C0002", channel_name="random")
    await in_random.acommand("new standup")  # link name `standup`, in #random
    await harness.double.wait_for(lambda: room_messages(harness, "C0002"))
    await ada.acommand("new standup")  # link name `standup-2`, in #general
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.acommand("join standup")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    here = rooms.find(harness.services.db, "T0001", "standup-2")
    assert jwt.decode(link_from(reply).split("token=")[1], options={"verify_signature": False})["rd"] == here.id


async def test_a_name_two_other_channels_share_is_not_guessed(harness, ada):
    """From #dev, "Design Review" could be #general's or #random's: a delete must not pick one."""
    await ada.acommand('new "Design Review"')  # `design-review`, in #general
    await harness.double.wait_for(lambda: room_messages(harness))
    await ada.as_user("U0001", channel_id="C0002", channel_name="random").acommand('new "Design Review"')
    await harness.double.wait_for(lambda: room_messages(harness, "C0002"))
    in_dev = ada.as_user("U0001", channel_id="C0003", channel_name="dev")
    await in_dev.acommand('delete "Design Review"')
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert reply.text == (":warning: More than one room is called *Design Review*: `design-review` in <#C0001>, "
                          "`design-review-2` in <#C0002>. Use the link name of the one you mean, for example "
                          "`design-review`.")
    assert harness.double.views == [] and len(harness.sandbox_state.rooms) == 2  # no confirmation opened
    await in_dev.acommand("join design-review-2")  # its link name says which
    joined = await harness.double.wait_for(lambda: harness.double.ephemerals("U0001")[1:] and
                                           harness.double.ephemerals("U0001")[1])
    theirs = rooms.find(harness.services.db, "T0001", "design-review-2")
    assert jwt.decode(link_from(joined).split("token=")[1], options={"verify_signature": False})["rd"] == theirs.id


async def test_names_with_apostrophes_and_ampersands_as_slack_sends_them(harness, ada):
    await ada.acommand("new Bob\u2019s & Tom's room")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    assert message.blocks[0]["text"]["text"] == "Bob\u2019s & Tom's room"
    assert "`bobs-toms-room`" in str(message.blocks)


async def test_a_standing_room_deleted_in_digital_samba_is_replaced(harness, ada, sandbox):
    await ada.acommand("")
    first = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    old_id = buttons(first)[ids.JOIN]["value"]
    deleted = await sandbox.delete(f"/api/v1/rooms/{old_id}",
                                   headers={"Authorization": f"Bearer {harness.sandbox_state.developer_key}"})
    assert deleted.status_code == 204
    await ada.acommand("")
    second = await harness.double.wait_for(lambda: len(room_messages(harness)) == 2 and room_messages(harness)[1])
    new_id = buttons(second)[ids.JOIN]["value"]
    assert new_id != old_id and new_id in harness.sandbox_state.rooms
    assert rooms.standing_room(harness.services.db, "T0001", "C0001").id == new_id


async def test_another_channels_private_room_does_not_exist_for_its_commands(harness, ada, grace, sandbox):
    in_random = ada.as_user("U0001", channel_id="C0002", channel_name="random")
    await in_random.acommand("new board-talks private")
    await harness.double.wait_for(lambda: room_messages(harness, "C0002"))
    await sandbox.post("/_sandbox/rooms/board-talks/join", json={"name": "Ada"})
    for command in ("polls board-talks", "summary board-talks", "end board-talks", "restream board-talks stop"):
        await grace.acommand(command)
    await grace.acommand("live")
    answers = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0002")) == 5 and
                                            harness.double.ephemerals("U0002"))
    assert all("can't find a room called `board-talks`" in a.text for a in answers[:4])
    assert answers[4].text == "No room has a live session right now."
    assert not harness.sandbox_state.requests_matching("GET", "/polls")


async def test_a_private_room_stays_in_its_channel_whatever_the_case_typed(harness, ada):
    """Issue 7: `Secret-Plans` (other capitals than the link name) used to leak a join link to #random."""
    await ada.acommand('new "Secret Plans" private')
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    grace_elsewhere = ada.as_user("U0002", channel_id="C0002", channel_name="random")
    for typed in ("Secret-Plans", "SECRET-PLANS", "secret plans"):
        await grace_elsewhere.acommand(f"join {typed}")
        await grace_elsewhere.acommand(f"polls {typed}")
    replies = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0002")) >= 6
                                            and harness.double.ephemerals("U0002"))
    assert all("I can't find a room called" in r.text for r in replies), [r.text for r in replies]
    assert "token=" not in str([r.blocks for r in replies])


async def test_the_creator_moderates_their_room_whatever_the_case_typed(harness, ada):
    await ada.acommand("new Team Sync")
    await harness.double.wait_for(lambda: len(room_messages(harness)) == 1)
    await ada.acommand("join Team-Sync")
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "personal link" in e.text), None))
    assert "moderator" in str(reply.blocks)
    await ada.acommand("join ünïcödé")  # no such room: found in any case only when it exists
    await harness.double.wait_for(lambda: any("I can't find" in e.text for e in harness.double.ephemerals("U0001")))


async def test_a_deleted_rooms_link_name_is_free_again(harness, ada):
    """Deleting *standup* frees its link name at Digital Samba; a new *standup* gets `standup` again, not
    `standup-2`, and `/meet join standup` finds the new room."""
    await ada.acommand("new standup")
    old = await written(harness, "standup")
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    await ada.asubmit(form)
    await harness.double.wait_for(lambda: rooms.get(harness.services.db, old.id).status == "deleted")

    await ada.acommand("new standup")
    new = await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, "T0001", "standup")) and r.id != old.id and r.message_ts and r)
    assert new.friendly_url == "standup"
    assert "`standup`" in str(next(m for m in room_messages(harness) if m.ts == new.message_ts).blocks)
    await ada.acommand("join standup")
    reply = await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals("U0001") if "personal link" in e.text), None))
    assert jwt.decode(link_from(reply).split("token=")[1], options={"verify_signature": False})["rd"] == new.id
