"""`/meet invite`, `/meet new … @people` and `/meet kick` through the real app over HTTP, on Chalk (its
emulator) and on Digital Samba (the sandbox)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest

from bot import ids
from bot.devtools.harness import Harness
from commands import presence
from storage import rooms

ADA, GRACE, LINUS = "U0001", "U0002", "U0003"


def room_messages(harness, channel="C0001"):
    return [m for m in harness.double.messages(channel) if not m.thread_ts]


def link_in(message) -> str | None:
    for block in message.blocks:
        url = (block.get("accessory") or {}).get("url")
        if url:
            return url
    return None


def chalk_world(harness):
    return harness.runtime.emulators["chalk"].world


@pytest.fixture
async def chalk(tmp_path):
    """meetops with Chalk (on its emulator) as the default provider, a room cap of 3 per room."""
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins=LINUS, meetops_provider="chalk",
                       providers={"chalk": {"max_participants": 3}}) as h:
        h.double.add_user("U0010", "ann", real_name="Ann Example")
        h.double.add_user("U0011", "bob", real_name="Bob Example")
        h.double.add_user("U0020", "helperbot", is_bot=True)
        h.double.add_user("U0021", "gone", deleted=True)
        h.double.add_user("U0022", "guest", team_id="T9999")
        yield h


@pytest.fixture
async def ada(chalk):
    user = chalk.user(ADA)
    yield user
    await user.aclose()


async def new_room(harness, ada, text="new standup") -> rooms.RoomRecord:
    await ada.acommand(text)
    await harness.double.wait_for(lambda: room_messages(harness))
    return await harness.double.wait_for(lambda: rooms.find(harness.services.db, "T0001", "standup"))


async def summary_for(harness, user_id=ADA, containing="Invited"):
    return await harness.double.wait_for(
        lambda: next((e for e in harness.double.ephemerals(user_id) if containing in e.text), None))


async def test_the_invitation_notification_escapes_the_room_name(chalk, ada):
    """The DM's notification text (what a phone shows) wrote `<!channel> hi` as it was, markup Slack acts on."""
    await ada.acommand("new <!channel> hi")
    await chalk.double.wait_for(lambda: room_messages(chalk))
    await ada.acommand("invite channel-hi @grace")
    dm = await chalk.double.wait_for(lambda: next(iter(chalk.double.dms("U0002")), None))
    assert "&lt;!channel&gt; hi" in dm.text and "<!channel>" not in dm.text


async def test_each_invited_person_gets_their_own_link_by_dm(chalk, ada):
    room = await new_room(chalk, ada)
    await ada.acommand("invite standup @grace @ann @bob")
    summary = await summary_for(chalk)
    assert "Invited to standup* (3)" in summary.text and "<@U0010>" in summary.text
    world = chalk_world(chalk)
    assert len(world.requests_matching("POST", f"/rooms/{room.id}/participants/bulk")) == 1
    links = {}
    for user_id in (GRACE, "U0010", "U0011"):
        dm = await chalk.double.wait_for(lambda: next(iter(chalk.double.dms(user_id)), None))
        assert "<@U0001> invited you to *standup*" in str(dm.blocks)
        assert "1 hour" in str(dm.blocks)
        links[user_id] = link_in(dm)
    assert len(set(links.values())) == 3  # personal: one link each
    opened = httpx.get(links["U0010"])
    assert opened.status_code == 200 and "Ann Example" in opened.text
    # No link ever reaches the channel or the inviter.
    shown = " ".join(str(m.blocks) + m.text for m in chalk.double.messages("C0001"))
    shown += " ".join(e.text + str(e.blocks) for e in chalk.double.ephemerals(ADA))
    assert not any(link in shown for link in links.values())


async def test_bots_yourself_the_deactivated_and_outsiders_are_reported(chalk, ada):
    room = await new_room(chalk, ada)
    form = ada.command_form("invite standup @helperbot @ada @gone @guest @grace")
    form["text"] += " <@U0999|ghost>"  # someone Slack cannot tell the bot about
    await ada._apost(form)
    summary = await summary_for(chalk, containing="Could not be reached")
    text = summary.text
    assert "Invited to standup* (1): <@U0002>" in text
    assert "<@U0020>: is a bot" in text and "<@U0001>: that's you" in text
    assert "<@U0021>: their account is deactivated" in text and "<@U0022>: is from another workspace" in text
    assert "<@U0999>: I can't find them in this workspace" in text
    [bulk] = chalk_world(chalk).requests_matching("POST", f"/rooms/{room.id}/participants/bulk")
    assert [p["external_user_id"] for p in bulk.body["participants"]] == ["T0001:U0002"]
    assert not chalk.double.dms("U0020") and not chalk.double.dms("U0021")


async def test_sixty_people_are_refused_with_the_limit(chalk, ada):
    room = await new_room(chalk, ada)
    form = ada.command_form("invite standup")
    form["text"] += "".join(f" <@U{n:04d}|p{n}>" for n in range(100, 160))
    await ada._apost(form)
    reply = await summary_for(chalk, containing="at most 50")
    assert "60 people" in reply.text and "invited nobody" in reply.text
    assert not chalk_world(chalk).requests_matching("POST", f"/rooms/{room.id}/participants/bulk")


async def test_one_refused_entry_does_not_fail_the_others(chalk, ada):
    room = await new_room(chalk, ada)
    await ada.acommand("invite standup @grace @ann @bob @linus")  # the room lets 3 in
    summary = await summary_for(chalk, containing="Could not be reached")
    assert "Invited to standup* (3)" in summary.text
    assert "<@U0003>: The room is full" in summary.text
    assert not chalk.double.dms(LINUS)
    assert len([p for p in chalk_world(chalk).participants.values() if p.room_id == room.id]) == 3


async def test_someone_with_a_current_link_is_already_in(chalk, ada):
    await new_room(chalk, ada)
    grace = ada.as_user(GRACE)
    await grace.aclick(room_messages(chalk)[0], ids.JOIN)
    await chalk.double.wait_for(lambda: chalk.double.ephemerals(GRACE))
    await ada.acommand("invite standup @grace @ann")
    summary = await summary_for(chalk)
    assert "*Already in* (1): <@U0002>" in summary.text and "(1): <@U0010>" in summary.text
    assert not chalk.double.dms(GRACE)


async def test_a_new_room_invites_the_people_named(chalk, ada):
    room = await new_room(chalk, ada, "new standup @ann")
    await summary_for(chalk)
    dm = await chalk.double.wait_for(lambda: next(iter(chalk.double.dms("U0010")), None))
    assert "invited you to *standup*" in str(dm.blocks)
    assert room.provider == "chalk"


async def test_a_comma_or_full_stop_after_a_person_neither_names_the_room_nor_drops_them(chalk, ada):
    room = await new_room(chalk, ada, "new standup @ann, @bob.")
    assert room.name == "standup"
    summary = await summary_for(chalk)
    assert "Invited to standup* (2)" in summary.text
    await chalk.double.wait_for(lambda: chalk.double.dms("U0010") and chalk.double.dms("U0011"))


async def test_invitations_work_on_digital_samba_too(harness, ada_ds=None):
    user = harness.user(ADA)
    try:
        await user.acommand("new standup @grace")
        summary = await harness.double.wait_for(
            lambda: next((e for e in harness.double.ephemerals(ADA) if "Invited" in e.text), None))
        assert "(1): <@U0002>" in summary.text
        dm = await harness.double.wait_for(lambda: next(iter(harness.double.dms(GRACE)), None))
        assert "token=" in link_in(dm)
    finally:
        await user.aclose()


# -- kick -------------------------------------------------------------------------------------


async def test_a_moderator_removes_someone_and_they_are_told_privately(chalk, ada):
    room = await new_room(chalk, ada)
    grace = ada.as_user(GRACE)
    await grace.aclick(room_messages(chalk)[0], ids.JOIN)
    reply = await chalk.double.wait_for(lambda: next(iter(chalk.double.ephemerals(GRACE)), None))
    link = next(b["accessory"]["url"] for b in reply.blocks if b.get("accessory", {}).get("url"))
    assert httpx.get(link).status_code == 200
    await grace.acommand("kick standup @ada")  # not a moderator
    refused = await chalk.double.wait_for(
        lambda: next((e for e in chalk.double.ephemerals(GRACE) if "moderators" in e.text), None))
    assert "remove someone" in refused.text
    await ada.acommand("kick standup @grace")
    done = await chalk.double.wait_for(
        lambda: next((e for e in chalk.double.ephemerals(ADA) if "removed" in e.text), None))
    assert "I removed <@U0002> from *standup*" in done.text
    told = await chalk.double.wait_for(lambda: next(iter(chalk.double.dms(GRACE)), None))
    assert "<@U0001> removed you from the meeting in *standup*" in told.text
    world = chalk_world(chalk)
    assert len(world.requests_matching("DELETE", "/participants/" + str(
        next(p.id for p in world.participants.values() if p.room_id == room.id)))) == 1
    assert httpx.get(link).status_code != 200


async def test_kicking_someone_who_never_joined_says_so(chalk, ada):
    await new_room(chalk, ada)
    await ada.acommand("kick standup @bob")
    reply = await summary_for(chalk, containing="hasn't joined")
    assert "<@U0011>" in reply.text


async def test_kick_where_the_provider_cannot_says_why(harness):
    user = harness.user(ADA)
    try:
        await user.acommand("new standup")
        await harness.double.wait_for(lambda: room_messages(harness))
        await user.acommand("kick standup @grace")
        reply = await harness.double.wait_for(
            lambda: next((e for e in harness.double.ephemerals(ADA) if "isn't available" in e.text), None))
        assert "Digital Samba" in reply.text and "remove one person" in reply.text
    finally:
        await user.aclose()


# -- live counts and the recording webhook ------------------------------------------------------


async def test_live_rooms_say_chalk_counts_links_not_yet_opened(chalk, ada):
    await new_room(chalk, ada)
    await ada.acommand("invite standup @ann")
    await summary_for(chalk)
    await ada.acommand("live")
    reply = await summary_for(chalk, containing="live room")
    assert "1 person" in str(reply.blocks) and "not opened" in str(reply.blocks)


def _signed(secret: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    stamp = stamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Chalk-Signature": f"sha256={digest}", "X-Chalk-Timestamp": str(stamp),
            "Content-Type": "application/json"}


async def test_the_recording_webhook_posts_link_and_summary_once(chalk, ada):
    room = await new_room(chalk, ada)
    secret = chalk.services.providers.get("chalk")._webhook_secret
    body = json.dumps({
        "event": "meeting.recording_ready", "timestamp": "2026-12-01T10:00:00Z",
        "meeting": {"id": room.id, "name": "standup", "started_at": "2026-12-01T09:00:00Z",
                    "ended_at": "2026-12-01T09:30:00Z", "participant_count": 2},
        "recording": {"id": "rec-1", "download_url": "https://files.example.com/rec-1.mp4"},
        "summary": "We agreed to ship on Thursday.", "action_items": ["Ada writes the notes"]}).encode()
    now = int(time.time())
    async with httpx.AsyncClient(base_url=chalk.url) as bot:
        assert (await bot.post("/webhooks/chalk", content=body, headers=_signed("wrong", body, now))).status_code == 401
        assert (await bot.post("/webhooks/chalk", content=body, headers=_signed(secret, body, now - 400))).status_code == 401
        assert (await bot.post("/webhooks/chalk", content=body, headers=_signed(secret, body, now))).status_code == 200
        # The same delivery replayed is refused; Chalk delivering it again (signed anew) is taken, and ignored.
        assert (await bot.post("/webhooks/chalk", content=body, headers=_signed(secret, body, now))).status_code == 401
        assert (await bot.post("/webhooks/chalk", content=body, headers=_signed(secret, body, now - 1))).status_code == 200

    def thread():
        return [m for m in chalk.double.messages("C0001") if m.thread_ts]

    await chalk.double.wait_for(lambda: len(thread()) >= 2)
    await asyncio.sleep(0.5)
    posted = [str(m.blocks) + m.text for m in thread()]
    summaries = [m for m in posted if "We agreed to ship on Thursday." in m]
    assert len(summaries) == 1 and "Ada writes the notes" in summaries[0]
    assert len([m for m in posted if "files.example.com/rec-1.mp4" in m]) == 1


async def test_a_recording_in_the_emulator_reaches_the_thread(chalk, ada):
    room = await new_room(chalk, ada)
    async with httpx.AsyncClient(base_url=chalk.runtime.emulators["chalk"].url + "/_sandbox") as control:
        (await control.post(f"/rooms/{room.id}/recording")).raise_for_status()
    thread = await chalk.double.wait_for(
        lambda: [m for m in chalk.double.messages("C0001") if m.thread_ts and "recording" in m.text])
    assert "download it" in thread[0].text
    # Where a fresh link is to be had, whether or not the channel has a digest.
    assert "`/meet recordings standup` gets a fresh one" in thread[0].text and "digest" not in thread[0].text


async def test_asking_for_the_summary_before_the_recording_arrives_does_not_lose_it(chalk, ada):
    """Chalk's summary comes with the recording: asked for before, it used to be settled as "transcription
    was off" (in Digital Samba's words), and the real one, arriving later, was never posted."""
    room = await new_room(chalk, ada)
    await ada.aclick(room_messages(chalk)[0], ids.JOIN)
    await chalk.double.wait_for(lambda: chalk.double.ephemerals(ADA))
    await ada.acommand("end standup")
    await chalk.double.wait_for(lambda: len(chalk.double.ephemerals(ADA)) >= 2)
    await ada.acommand("summary standup")
    reply = await summary_for(chalk, containing="summary")
    assert "There is no summary" not in reply.text and "Digital Samba" not in reply.text
    async with httpx.AsyncClient(base_url=chalk.runtime.emulators["chalk"].url + "/_sandbox") as control:
        (await control.post(f"/rooms/{room.id}/recording")).raise_for_status()
    posted = await chalk.double.wait_for(lambda: [
        m for m in chalk.double.messages("C0001") if m.thread_ts and "ship on Thursday" in m.text + str(m.blocks)])
    assert len(posted) == 1
    assert not [m for m in chalk.double.messages("C0001") if "There is no summary" in m.text]


async def test_a_join_while_chalk_is_down_says_so_and_sends_no_link(chalk, ada):
    await new_room(chalk, ada)
    async with httpx.AsyncClient(base_url=chalk.runtime.emulators["chalk"].url + "/_sandbox") as control:
        (await control.put("/faults", json={"status": 503, "paths": "/participants"})).raise_for_status()
    await ada.aclick(room_messages(chalk)[0], ids.JOIN)
    reply = await chalk.double.wait_for(lambda: next(iter(chalk.double.ephemerals(ADA)), None))
    assert "Chalk" in reply.text and "try again" in reply.text.lower()
    assert "token=" not in reply.text + str(reply.blocks)


async def test_inviting_to_an_ended_meeting_says_it_ended(chalk, ada):
    await new_room(chalk, ada)
    await ada.aclick(room_messages(chalk)[0], ids.JOIN)
    await summary_for(chalk, containing="personal link")
    await ada.acommand("end standup")
    await summary_for(chalk, containing="has ended")
    await ada.acommand("invite standup @ann")
    reply = await summary_for(chalk, containing="a Chalk room can't host another one")  # as Join says
    assert "`/meet new standup` makes a new room" in reply.text
    assert not chalk.double.dms("U0010")


async def test_a_name_not_picked_from_slacks_list_is_explained(chalk, ada):
    await new_room(chalk, ada)
    await ada.acommand("invite standup @nobody-here")  # typed, not picked: Slack sends it as plain text
    reply = await summary_for(chalk, containing="picked from Slack's list")
    assert "`@nobody-here`" in reply.text


@pytest.mark.parametrize("words, asks", [
    # No @: Slack sends plain text. The example names the room, as typed or not.
    ("invite standup grace", "Who should I invite? Name each person with @"),
    ("invite @grace", "To which room?"),
    ("kick standup @grace @linus", "I remove one person at a time: `/meet kick standup <@U0002>`, then the next."),
])
async def test_an_invitation_missing_its_people_or_its_room_asks_for_that_one(chalk, ada, words, asks):
    await new_room(chalk, ada)
    await ada.acommand(words)
    reply = await chalk.double.wait_for(lambda: next(iter(chalk.double.ephemerals(ADA)), None))
    assert reply.text.startswith(f":warning: {asks}")
    assert not chalk.double.dms("U0002")


async def test_an_invitation_naming_no_one_shows_the_example_with_its_own_room(chalk, ada):
    await ada.acommand('new "Board Talks"')
    await chalk.double.wait_for(lambda: room_messages(chalk))
    await ada.acommand('invite "board talks"')
    reply = await chalk.double.wait_for(lambda: next(iter(chalk.double.ephemerals(ADA)), None))
    assert reply.text == (":warning: Who should I invite? Name each person with @ and pick them from Slack's list "
                          "as you type, for example `/meet invite board-talks @ann @bob`.")


async def test_rooms_shows_the_lock_of_a_private_chalk_room(chalk, ada):
    """Chalk's room list carries no privacy: the lock comes from what meetops made the room as."""
    await new_room(chalk, ada, 'new standup --private')
    await ada.acommand("rooms")
    listed = await summary_for(chalk, containing="1 room")
    assert "*standup* :lock:  `standup`" in str(listed.blocks)


def _actions(message) -> list[str]:
    return [e.get("action_id") for b in message.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


async def test_an_ended_chalk_room_offers_no_join_and_its_name_makes_a_new_room(chalk, ada):
    """A Chalk room is the meeting itself: once ended nobody can enter it. It used to keep its Join button, and
    `/meet new standup` brought the dead room back instead of making one."""
    old = await new_room(chalk, ada)
    await ada.aclick(room_messages(chalk)[0], ids.JOIN)
    await chalk.double.wait_for(lambda: chalk.double.ephemerals(ADA))
    await ada.acommand("end standup")
    ended = await chalk.double.wait_for(lambda: next(
        (m for m in room_messages(chalk) if "can't host another one" in str(m.blocks)), None))
    assert ids.JOIN not in _actions(ended) and "clicks *Join*" not in str(ended.blocks)

    await ada.acommand("new standup")
    fresh = await chalk.double.wait_for(lambda: next(
        (r for r in rooms.in_channel(chalk.services.db, "T0001", "C0001") if r.id != old.id and r.message_ts), None))
    assert fresh.name == "standup" and fresh.provider == "chalk"
    message = next(m for m in room_messages(chalk) if m.ts == fresh.message_ts)
    assert ids.JOIN in _actions(message)
    # The name now means the new room.
    before = len(chalk.double.ephemerals(ADA))
    await ada.acommand("join standup")
    reply = await chalk.double.wait_for(lambda: len(chalk.double.ephemerals(ADA)) > before
                                        and chalk.double.ephemerals(ADA)[-1])
    assert fresh.id in (link_in(reply) or "") and old.id not in (link_in(reply) or "")


async def test_the_channels_room_after_its_chalk_meeting_ended_is_a_new_one(chalk, ada):
    await ada.acommand("")
    first = await chalk.double.wait_for(
        lambda: (r := rooms.standing_room(chalk.services.db, "T0001", "C0001")) and r.message_ts and r)
    await ada.aclick(room_messages(chalk)[0], ids.JOIN)
    await chalk.double.wait_for(lambda: chalk.double.ephemerals(ADA))
    await ada.acommand(f"end {first.friendly_url}")
    await chalk.double.wait_for(lambda: rooms.get(chalk.services.db, first.id).status == "ended")
    await ada.acommand("")
    second = await chalk.double.wait_for(
        lambda: (r := rooms.standing_room(chalk.services.db, "T0001", "C0001")) and r.id != first.id and r)
    await chalk.double.wait_for(lambda: rooms.get(chalk.services.db, second.id).message_ts)
    assert chalk_world(chalk).rooms[second.id]  # made at Chalk, where the first one stays ended


async def test_deleting_a_chalk_room_warns_only_of_what_chalk_rooms_hold(chalk, ada):
    await new_room(chalk, ada)
    await ada.acommand("delete standup")
    form = await chalk.double.wait_for(lambda: next(iter(chalk.double.views), None))
    warning = str(form.view["blocks"])
    assert "every invite link." in warning and "stream destination" not in warning  # Chalk streams nothing
    assert "`/meet recordings standup`" in warning


async def test_a_chalk_room_counts_links_handed_out_not_people_in_the_room(chalk, ada):
    """Chalk counts tokens issued (opened or not): three Join clicks read 'Live, 3 people in the room'."""
    room = await new_room(chalk, ada)
    for user in (ADA, GRACE, LINUS):
        await chalk.user(user).aclick(room_messages(chalk)[0], ids.JOIN)
        await chalk.double.wait_for(lambda u=user: chalk.double.ephemerals(u))

    def counted():
        return next((m for m in room_messages(chalk) if m.ts == room.message_ts and "handed out" in str(m.blocks)),
                    None)

    # What the presence job does now and then during a meeting; the last Join's own follow-up (the room going
    # live) may still be running, so it is asked again until the message shows the count (bounded).
    deadline = time.monotonic() + 10
    while not counted() and time.monotonic() < deadline:
        await presence.check_presence(chalk.services)
        await asyncio.sleep(0.1)
    message = counted()
    assert message is not None, "the room message never showed the count"
    shown = str(message.blocks)
    assert "Live, 3 links handed out" in shown and "in the room" not in shown
