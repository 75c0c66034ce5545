"""The provider seam as a user meets it: rooms remember their provider, the UI follows its capabilities,
asking for what it can't do gets its reason in words; plus the seam's own rules (registry, layering,
migrations of databases from before providers were plug-ins)."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sqlite3

import httpx
import pytest
import sqlite_utils

from bot import ids
from bot.blocks import room_buttons, room_message_blocks
from bot.providers import registry
from bot.providers.base import CORE, Capabilities, Capability
from storage import rooms
from storage.db import open_db
from storage.rooms import RoomRecord
from tests.test_rooms import buttons, room_messages, written

ROOT = pathlib.Path(__file__).resolve().parent.parent


def narrowed(provider, *, keep: set[Capability]):
    """The provider as if it could do only `keep` (beyond the core), each missing one with a reason."""
    missing = {c: f"this test platform has no {c.value.replace('_', ' ')}" for c in Capability
               if c not in keep and c not in CORE}
    provider.plugin = dataclasses.replace(provider.plugin, capabilities=Capabilities.of(keep, missing))


def record(**kw) -> RoomRecord:
    return RoomRecord(**{**dict(id="r1", team_id="T1", channel_id="C1", creator_id="U1", name="standup",
                                friendly_url="standup", room_url="https://x.test/standup"), **kw})


def test_room_buttons_follow_the_providers_capabilities():
    everything = registry.load("digitalsamba").capabilities
    blocks = room_message_blocks(record(), capabilities=everything, provider_title="Digital Samba", emulated=False)
    shown = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert {ids.JOIN, ids.POLL, ids.GO_LIVE, ids.END} <= shown
    bare = Capabilities.of(set(), {c: "no" for c in Capability if c not in CORE})
    blocks = room_message_blocks(record(), capabilities=bare, provider_title="Bare", emulated=True)
    shown = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert shown == {ids.JOIN, ids.POLL}, "no Go live or End on a platform that can do neither; polls run in Slack"
    text = str(blocks)
    assert "nobody has joined yet" not in text, "a platform that reports nothing never claims who is in the room"
    assert "simulated Bare" in text
    ended = room_message_blocks(record(status="ended"), capabilities=bare, provider_title="Bare", emulated=False)
    assert ids.SUMMARY not in str(ended)


def test_a_room_nobody_can_join_any_more_neither_shows_join_nor_talks_about_it():
    caps = registry.load("chalk").capabilities
    deleted = str(room_message_blocks(record(status="deleted"), capabilities=caps, provider_title="Chalk",
                                      emulated=False))
    assert "clicks *Join*" not in deleted and ids.JOIN not in deleted
    over = room_message_blocks(record(status="ended"), capabilities=caps, provider_title="Chalk", emulated=False,
                               reopens=False)
    assert ids.JOIN not in str(over) and "clicks *Join*" not in str(over)
    assert "a Chalk room can't host another one: `/meet new standup` makes a new room" in str(over)
    # Where rooms reopen, an ended room is joined again for the next meeting.
    again = room_message_blocks(record(status="ended"), capabilities=caps, provider_title="X", emulated=False)
    assert ids.JOIN in str(again) and "clicks *Join*" in str(again)


def test_end_asks_first_only_where_a_room_cannot_host_another_meeting():
    caps = registry.load("chalk").capabilities
    end = lambda **kw: next(b for b in room_buttons(record(), caps, None, **kw) if b.action_id == ids.END)  # noqa: E731
    dialog = end(reopens=False).to_dict()["confirm"]
    assert dialog["title"]["text"] == "End the meeting for good?" and dialog["confirm"]["text"] == "End it"
    assert "can't host another meeting once this one ends" in dialog["text"]["text"]
    assert "confirm" not in end(reopens=True).to_dict()


def test_facts_a_provider_gives_show_on_the_room_message():
    data = rooms.provider_data({}, (("Dial-in", "+49 30 1234 · PIN 5678"),))
    blocks = room_message_blocks(record(provider_data=data), capabilities=registry.load("digitalsamba").capabilities,
                                 provider_title="X", emulated=False)
    assert "*Dial-in*" in str(blocks) and "PIN 5678" in str(blocks)
    gone = room_message_blocks(record(provider_data=data, status="deleted"),
                               capabilities=registry.load("digitalsamba").capabilities, provider_title="X",
                               emulated=False)
    assert "PIN 5678" not in str(gone), "a deleted room's dial-in is no way in any more"


async def test_a_missing_capability_is_answered_with_the_providers_reason(harness, ada):
    narrowed(harness.services.providers.default, keep={Capability.LIVE_STATUS})
    await ada.acommand("new standup")
    message = await harness.double.wait_for(lambda: next(iter(room_messages(harness)), None))
    assert ids.GO_LIVE not in buttons(message) and ids.END not in buttons(message)
    for command in ("restream standup", "end standup", "summary standup"):
        await ada.acommand(command)
    replies = await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) >= 3
                                            and harness.double.ephemerals("U0001"))
    texts = [r.text for r in replies[-3:]]
    assert all("isn't available on Digital Samba rooms" in t for t in texts), texts
    assert any("this test platform has no restream" in t for t in texts)
    assert not harness.sandbox_state.requests_matching("POST", "/restreamers/start")


async def test_help_marks_what_each_provider_can_do(harness, ada):
    await ada.acommand("help")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "What each meeting platform here can do" in reply.text
    assert "*Digital Samba*" in reply.text and "AI summaries" in reply.text and "not snapshots" in reply.text


async def test_rooms_remember_their_provider(harness, ada):
    await ada.acommand("new standup")
    room = await written(harness, "standup")
    assert room.provider == "digitalsamba"


async def test_new_room_on_a_provider_not_set_up_is_refused_in_words(harness, ada):
    await ada.acommand("new standup --provider nosuch")
    reply = await harness.double.wait_for(lambda: next(iter(harness.double.ephemerals("U0001")), None))
    assert "I don't know the provider `nosuch`" in reply.text
    assert not room_messages(harness)


async def test_webhooks_for_an_unknown_provider_are_refused(harness):
    async with httpx.AsyncClient(base_url=harness.url) as web:
        response = await web.post("/webhooks/nosuch", json={"event": "session_ended"})
    assert response.status_code == 401


def test_every_registered_provider_loads_and_explains_what_it_lacks():
    for name in registry.DRIVERS:
        plugin = registry.load(name)
        assert plugin.name == name and plugin.title
        for capability in Capability:
            assert capability in plugin.capabilities or plugin.capabilities.reason(capability)
        prefix = plugin.settings_model.model_config.get("env_prefix")
        assert prefix and prefix.endswith("_"), f"{name} needs its own env prefix"


def test_capabilities_refuse_a_missing_reason():
    with pytest.raises(ValueError, match="without a reason"):
        Capabilities.of({Capability.POLLS}, {})


def test_bot_imports_commands_only_where_the_app_is_assembled():
    allowed = {"bot/app.py", "bot/runtime.py", "bot/server.py"}
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("bot/devtools/") or rel in allowed:
            continue
        if re.search(r"^\s*(from commands|import commands)", path.read_text(), re.M):
            offenders.append(rel)
    assert not offenders, f"bot/ must not reach into commands/: {offenders}"


def test_a_database_from_before_providers_keeps_its_rooms(tmp_path):
    """Made by the old hand-written runner (a `_migrations` table with m001..m003), then opened now."""
    from storage import migrations as module

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    old = [m for m in module.migrations._migrations if m.name < "m004"]
    for migration in old:
        migration.fn(db)
    db["_migrations"].insert_all([{"name": m.name, "applied_at": "2026-11-01T00:00:00+00:00"} for m in old])
    db["rooms"].insert({"id": "r1", "team_id": "T1", "channel_id": "C1", "creator_id": "U1", "name": "Ünïcödé",
                        "friendly_url": "unicode", "room_url": "https://x", "status": "live", "session_id": "s1",
                        "created_at": "2026-11-01T00:00:00+00:00"})
    db.conn.commit()
    db.close()
    reopened = open_db(str(path))
    room = rooms.get(reopened, "r1")
    assert room.provider == "digitalsamba", "rooms made before providers were plug-ins are Digital Samba's"
    assert rooms.find(reopened, "T1", "ünïcödé").id == "r1", "found in any case"
    assert reopened["sessions"].count == 1, "the live session is carried into the session log"
    assert not reopened["_migrations"].exists()
    reopened.close()
    again = open_db(str(path))  # and opening it again changes nothing
    assert rooms.get(again, "r1").provider == "digitalsamba"
    again.close()
