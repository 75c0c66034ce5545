"""Eyeson runs the shared conformance suite against its emulator.

Three tests of the suite assume a room exists at the provider from its creation on; Eyeson has no
idle rooms (a meeting exists only while someone is in it, and `create_room` calls nothing), so they are
overridden here with what a person sees on Eyeson instead. Eyeson-only checks follow.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from bot.errors import ProviderError, ProviderGone, ProviderRejected
from bot.providers.base import Capability, RestreamTarget
from tests.providers.conformance import ADA, GRACE, ProviderConformance, spec


class TestEyeson(ProviderConformance):
    provider_name = "eyeson"

    # -- the suite, where Eyeson's rooms differ -----------------------------------------

    async def test_create_then_find_and_list_the_room(self, provider, emulator):
        room = await provider.create_room(spec("Design Review"), idempotency_key=secrets.token_hex(8))
        assert room.id and emulator.world.requests == []  # nothing to create at Eyeson
        assert (await provider.get_room(room.id)).id == room.id  # meetops' own room id is always a room
        assert room.id not in [r.id async for r in provider.iter_rooms()]  # Eyeson lists running meetings only
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))  # the first Join starts the meeting
        assert room.id in [r.id async for r in provider.iter_rooms()]

    async def test_many_rooms_are_listed_across_pages(self, provider):
        made = set()
        for n in range(30):
            room = await provider.create_room(spec(f"Room {n}"), idempotency_key=secrets.token_hex(8))
            await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
            made.add(room.id)
        assert made <= {r.id async for r in provider.iter_rooms()}

    async def test_errors_never_leak_raw_bodies(self, provider, control):
        room = await provider.create_room(spec("Refused"), idempotency_key=secrets.token_hex(8))
        (await control.put("/faults", json={"status": 400, "count": 1})).raise_for_status()
        with pytest.raises(ProviderError) as info:
            await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))  # Eyeson's first call for a room
        assert "{" not in info.value.user_message and "Traceback" not in info.value.user_message

    # -- Eyeson only ---------------------------------------------------------------------

    async def test_same_name_same_team_is_the_same_room_and_other_teams_differ(self, provider):
        base = spec("Standup")
        again = await provider.create_room(base, idempotency_key="a")
        other_team = type(base)(**{**base.__dict__, "external_id": "slack:T2:C1"})
        assert (await provider.create_room(base, idempotency_key="b")).id == again.id
        assert (await provider.create_room(other_team, idempotency_key="c")).id != again.id

    async def test_a_join_link_lasts_as_long_as_the_meeting(self, provider, control):
        room = await provider.create_room(spec("Retro"), idempotency_key="k")
        grant = await provider.issue_join(room, GRACE, lifetime=timedelta(hours=1))
        assert grant.expires_at is None and grant.identity_bound
        assert "as long as the meeting" in grant.note
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
        (await control.post(f"/rooms/{room.id}/leave", json={"name": "Grace"})).raise_for_status()
        assert room.id not in {r.room_id async for r in provider.iter_live_rooms()}  # the last one left: over

    async def test_sim_summary_says_eyeson_has_none(self, provider, control):
        answer = await control.post("/rooms/anything/summary")
        assert answer.status_code == 422 and answer.json()["message"] == "Eyeson has no AI summaries."

    async def test_recording_becomes_a_fresh_link(self, plugin, provider, control):
        self.skip_unless(plugin, Capability.RECORDING)
        room = await provider.create_room(spec("Recorded"), idempotency_key="k")
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Ada"})).raise_for_status()
        await provider.start_recording(room)
        with pytest.raises(ProviderRejected, match="already being recorded"):
            await provider.start_recording(room)
        await provider.stop_recording(room)
        [recording] = [r async for r in provider.iter_recordings(room)]
        link = await provider.recording_link(recording.id)
        assert link.startswith("http")

    async def test_restream_is_one_destination_at_a_time(self, provider, control):
        room = await provider.create_room(spec("Stream"), idempotency_key="k")
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Ada"})).raise_for_status()
        await provider.start_restream(room, RestreamTarget(label="YouTube", stream_key="yt-key-1", type="youtube"))
        with pytest.raises(ProviderRejected, match="one destination"):
            await provider.start_restream(room, RestreamTarget(label="Vimeo", stream_key="vm-key-2", type="vimeo"))
        await provider.stop_restream(room)
        await provider.start_restream(room, RestreamTarget(label="Vimeo", stream_key="vm-key-2", type="vimeo"))

    async def test_actions_in_a_room_with_no_meeting_say_so_and_start_nothing(self, provider, emulator):
        room = await provider.create_room(spec("Idle"), idempotency_key="k")
        with pytest.raises(ProviderGone, match="no meeting running"):
            await provider.start_recording(room)
        assert emulator.world.meetings == {}  # the bot did not start a meeting by asking for a key
