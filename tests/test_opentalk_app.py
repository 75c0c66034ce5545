"""meetops on OpenTalk, end to end: the real app over HTTP, the Slack double and the OpenTalk emulator."""

from __future__ import annotations

import httpx
import pytest

from bot import ids
from bot.devtools.harness import Harness
from bot.meetings import as_provider_room
from storage import rooms


@pytest.fixture
async def harness(tmp_path):
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins="U0003", meetops_provider="opentalk") as h:
        h.double.add_user("U0001", "ada", real_name="Ada Lovelace", email="ada@example.com")
        h.double.add_user("U0002", "grace", real_name="Grace Hopper", email="grace@example.com")
        yield h


@pytest.fixture
def opentalk(harness):
    return harness.runtime.emulators["opentalk"]


def ot_state(opentalk) -> dict:
    return httpx.get(opentalk.url + "/_sandbox/state").json()


def room_messages(harness, channel="C0001"):
    return [m for m in harness.double.messages(channel) if not m.thread_ts]


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def test_new_room_with_phone_shows_dial_in_and_only_possible_buttons(harness, ada, opentalk):
    await ada.acommand("new standup --phone")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    text = str(message.blocks)
    assert "+49 30 555 0100" in text and "Phone PIN" in text
    assert ids.JOIN in buttons(message) and ids.POLL in buttons(message)  # polls run in Slack
    assert ids.END not in buttons(message) and ids.SUMMARY not in buttons(message)
    assert ot_state(opentalk)["events"][0]["title"] == "standup"
    print(text)


async def test_join_gives_guests_an_invite_link_and_account_holders_the_room(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await grace.aclick(message, ids.JOIN)
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0002")), None))
    print(reply.text, reply.blocks)
    assert "?invite=" in str(reply.blocks) and "anyone holding" in str(reply.blocks)
    await ada.aclick(message, ids.JOIN)
    mine = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    print(mine.text, mine.blocks)
    assert "?invite=" not in str(mine.blocks)


async def ephemeral(harness, user_id, containing: str):
    return await harness.double.wait_for(lambda: next(
        (e for e in harness.double.ephemerals(user_id) if containing in (e.text + str(e.blocks))), None))


async def test_delete_asks_first_then_deletes_and_the_room_message_says_so(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    await grace.acommand("delete standup")
    await ephemeral(harness, "U0002", "moderator")  # not hers to delete
    assert harness.double.views == []
    await ada.acommand("delete standup")
    form = await harness.double.wait_for(lambda: next(iter(harness.double.views), None))
    assert "can't be undone" in str(form.view["blocks"]) and ot_state(opentalk)["events"]
    response = await ada.asubmit(form)
    assert response.status_code == 200
    await ephemeral(harness, "U0001", "is deleted")
    assert ot_state(opentalk)["events"] == [] and ot_state(opentalk)["rooms"] == {}
    updated = await harness.double.wait_for(lambda: (m := room_messages(harness)[0]).updates and m)
    assert "no longer exists" in str(updated.blocks) and ids.JOIN not in buttons(updated)
    # the old message's Join, clicked anyway
    await grace.aclick(message, ids.JOIN)
    await ephemeral(harness, "U0002", "no longer exists")


async def test_a_room_deleted_in_opentalk_is_said_when_joined(harness, ada, grace, opentalk):
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    event = ot_state(opentalk)["events"][0]
    room = rooms.find(harness.services.db, "T0001", "standup")
    await harness.services.provider(room).delete_room(as_provider_room(room))  # someone deletes it in OpenTalk
    assert event["id"] not in [e["id"] for e in ot_state(opentalk)["events"]]
    await grace.aclick(message, ids.JOIN)
    reply = await ephemeral(harness, "U0002", "no longer exists")
    assert "OpenTalk" in reply.text + str(reply.blocks)


def asset_downloads(opentalk) -> list[dict]:
    return [r for r in httpx.get(opentalk.url + "/_sandbox/requests").json()
            if r["method"] == "GET" and "/assets/" in r["path"]]


async def test_recordings_are_served_by_meetops_through_signed_links(harness, ada, opentalk):
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    room = rooms.find(harness.services.db, "T0001", "standup")
    await ada.acommand("recordings standup")
    await ephemeral(harness, "U0001", "no recordings yet")
    httpx.post(f"{opentalk.url}/_sandbox/rooms/{room.id}/recording").raise_for_status()
    await ada.acommand("recordings standup")
    reply = await ephemeral(harness, "U0001", "1 recording")
    text = reply.text + str(reply.blocks)
    link = next(part.split("|")[0] for part in text.split("<") if "/downloads/" in part)
    assert link.startswith(harness.url + "/downloads/") and opentalk.url not in text
    async with httpx.AsyncClient() as web:
        answer = await web.get(link)
        assert answer.status_code == 200 and answer.content.startswith(b"WEBM")
        assert "attachment" in answer.headers["content-disposition"]
        state = ot_state(opentalk)["rooms"][room.id]["assets"][0]
        assert len(answer.content) == state["size"]
        before = len(asset_downloads(opentalk))
        tampered = link[:-3] + ("xyz" if not link.endswith("xyz") else "abc")
        refused = await web.get(tampered)
        assert refused.status_code == 403 and b"WEBM" not in refused.content
        from datetime import timedelta

        from bot import downloads
        from commands.recordings import download_secret

        token = downloads.sign(download_secret(harness.services), room_id=room.id,
                               recording_id=state["id"], expires_at=harness.services.clock() - timedelta(seconds=1))
        expired = await web.get(f"{harness.url}/downloads/{token}")
        assert expired.status_code == 403 and "expired" in expired.text
        assert len(asset_downloads(opentalk)) == before, "nothing streamed for a refused link"

