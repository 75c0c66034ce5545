"""One conformance suite every provider client runs against its own emulator, skipped by capability.

A provider's test module subclasses `ProviderConformance` and sets `provider_name`; the fixtures start
its emulator (over real HTTP on loopback), build its client from its own settings model, and drive the
world through the kit's control API (`/_sandbox/...`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
import pytest

from bot.errors import ProviderError, ProviderNotFound, ProviderUnavailable
from bot.providers import registry
from bot.providers.base import Capability, Person, Role, RoomSpec, Unsupported


def spec(name: str = "Design Review", *, private: bool = False) -> RoomSpec:
    slug = name.lower().replace(" ", "-") + "-" + secrets.token_hex(2)
    return RoomSpec(name=name, slug=slug, description=name, private=private, external_id="slack:T1:C1")


ADA = Person(slack_user_id="U0001", external_id="T1:U0001", role=Role.MODERATOR, name="Ada Lovelace",
             email="ada@example.com")
GRACE = Person(slack_user_id="U0002", external_id="T1:U0002", role=Role.ATTENDEE, name="Grace Hopper")


class ProviderConformance:
    provider_name: str = ""

    @pytest.fixture
    def plugin(self):
        return registry.load(self.provider_name)

    @pytest.fixture
    def emulator(self, plugin):
        server = plugin.start_emulator()
        yield server
        server.stop()

    @pytest.fixture
    async def provider(self, plugin, emulator):
        settings = plugin.settings_model(_env_file=None, **emulator.client_settings())
        client = plugin.build(settings)
        yield client
        await client.aclose()

    @pytest.fixture
    async def control(self, emulator):
        async with httpx.AsyncClient(base_url=emulator.url + "/_sandbox", timeout=10) as client:
            yield client

    async def record_a_meeting(self, plugin, provider, control, room) -> None:
        """Leave one finished recording of `room` at the provider: recorded from Slack where the provider can,
        else inside the meeting, which the emulator plays. A provider whose recordings take time to be ready
        overrides this."""
        if Capability.RECORDING in plugin.capabilities:
            await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
            (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
            await provider.start_recording(room)
            await provider.stop_recording(room)
        else:
            (await control.post(f"/rooms/{room.id}/recording", json={})).raise_for_status()

    def skip_unless(self, plugin, capability: Capability) -> None:
        if capability not in plugin.capabilities:
            pytest.skip(f"{plugin.title}: {plugin.capabilities.reason(capability)}")

    # -- declared ----------------------------------------------------------------------

    def test_every_missing_capability_has_a_reason(self, plugin):
        for capability in Capability:
            assert capability in plugin.capabilities or plugin.capabilities.reason(capability).strip(), capability

    async def test_unsupported_features_say_why_in_words(self, plugin, provider):
        missing = [c for c in (Capability.POLLS, Capability.RESTREAM, Capability.SUMMARIES, Capability.SNAPSHOTS)
                   if c not in plugin.capabilities]
        if not missing:
            pytest.skip("supports every feature probed here")
        with pytest.raises(Unsupported) as info:
            provider.require(missing[0])
        assert plugin.title in info.value.user_message and plugin.capabilities.reason(missing[0]) in info.value.user_message

    # -- core --------------------------------------------------------------------------

    async def test_create_then_find_and_list_the_room(self, provider):
        room = await provider.create_room(spec("Design Review"), idempotency_key=secrets.token_hex(8))
        assert room.id
        again = await provider.get_room(room.id)
        assert again.id == room.id
        listed = [r.id async for r in provider.iter_rooms()]
        assert room.id in listed

    async def test_an_unknown_room_is_not_found(self, provider):
        with pytest.raises(ProviderNotFound):
            await provider.get_room("no-such-room-" + secrets.token_hex(3))

    async def test_a_personal_join_grant_is_a_link_for_that_person(self, provider):
        room = await provider.create_room(spec("Standup"), idempotency_key=secrets.token_hex(8))
        grant = await provider.issue_join(room, GRACE, lifetime=timedelta(hours=1))
        assert grant.url.startswith(("http://", "https://"))
        other = await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        assert other.url != grant.url  # personal: never the same link for two people

    async def test_many_rooms_are_listed_across_pages(self, provider):
        made = {(await provider.create_room(spec(f"Room {n}"), idempotency_key=secrets.token_hex(8))).id
                for n in range(30)}
        listed = {r.id async for r in provider.iter_rooms()}
        assert made <= listed

    async def test_provider_down_is_unavailable_in_words(self, provider, control):
        (await control.put("/faults", json={"status": 503})).raise_for_status()
        with pytest.raises(ProviderUnavailable) as info:
            async for _ in provider.iter_rooms():
                pass
        assert "try again" in info.value.user_message.lower()
        assert "{" not in info.value.user_message

    # -- optional ----------------------------------------------------------------------

    async def test_live_rooms_count_people_in_them(self, plugin, provider, control):
        self.skip_unless(plugin, Capability.LIVE_STATUS)
        room = await provider.create_room(spec("Live one"), idempotency_key=secrets.token_hex(8))
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
        live = {r.room_id: r.participants async for r in provider.iter_live_rooms()}
        assert live.get(room.id, 0) >= 1

    async def test_end_session_ends_the_meeting(self, plugin, provider, control):
        self.skip_unless(plugin, Capability.END_SESSION)
        room = await provider.create_room(spec("Ending"), idempotency_key=secrets.token_hex(8))
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
        await provider.end_session(room, None)
        if Capability.LIVE_STATUS in plugin.capabilities:
            live = {r.room_id async for r in provider.iter_live_rooms()}
            assert room.id not in live

    async def test_webhook_adapter_refuses_an_unsigned_delivery(self, plugin, provider):
        self.skip_unless(plugin, Capability.WEBHOOKS)
        from datetime import datetime, timezone

        await provider.register_webhook("http://127.0.0.1:9/webhooks/" + plugin.name)
        adapter = provider.webhook_adapter()
        assert adapter is not None, "a client that registered a webhook verifies its deliveries"
        now = datetime.now(timezone.utc)
        assert not adapter.verify({}, b'{"event": "x"}', now)
        assert not adapter.verify({"authorization": "forged", "x-signature": "forged"}, b'{"event": "x"}', now)

    async def test_errors_never_leak_raw_bodies(self, provider, control):
        (await control.put("/faults", json={"status": 400, "count": 1})).raise_for_status()
        with pytest.raises(ProviderError) as info:
            await provider.create_room(spec("Refused"), idempotency_key=secrets.token_hex(8))
        assert "{" not in info.value.user_message and "Traceback" not in info.value.user_message

    async def test_recording_starts_and_stops_in_a_running_meeting(self, plugin, provider, control):
        self.skip_unless(plugin, Capability.RECORDING)
        room = await provider.create_room(spec("Recorded"), idempotency_key=secrets.token_hex(8))
        await provider.issue_join(room, ADA, lifetime=timedelta(hours=1))
        (await control.post(f"/rooms/{room.id}/join", json={"name": "Grace"})).raise_for_status()
        await provider.start_recording(room)
        await provider.stop_recording(room)

    async def test_recording_an_empty_room_is_refused_in_words(self, plugin, provider):
        self.skip_unless(plugin, Capability.RECORDING)
        room = await provider.create_room(spec("Nobody here"), idempotency_key=secrets.token_hex(8))
        with pytest.raises(ProviderError) as info:
            await provider.start_recording(room)
        assert "{" not in info.value.user_message

    async def test_a_recording_is_listed_with_a_way_to_download_it(self, plugin, provider, control):
        """What `/meet recordings` needs from a provider that declares recording links: the room's recordings,
        each reachable (a link, or the file through meetops)."""
        self.skip_unless(plugin, Capability.RECORDING_LINKS)
        room = await provider.create_room(spec("Recorded"), idempotency_key=secrets.token_hex(8))
        await self.record_a_meeting(plugin, provider, control, room)
        [recording] = [r async for r in provider.iter_recordings(room)]
        assert recording.id and recording.room_id == room.id
        if provider.serves_recordings_through_meetops:
            async with provider.open_recording(room, recording.id) as download:
                assert [chunk async for chunk in download.chunks]
        else:
            assert (recording.url or await provider.recording_link(recording.id)).startswith("http")

    async def test_a_declared_feature_the_client_lacks_is_never_an_empty_reason(self, plugin, provider, caplog):
        """Should a client miss a method of a capability its provider declares, the person hears it in words
        (never "That isn't available on X rooms: " and nothing), and the log says which for the admin."""
        declared = min(plugin.capabilities.supported)
        refusal = provider.unsupported(declared)
        assert refusal.user_message.endswith("meetops can't do that there yet.")
        assert f"declares {declared.value}" in caplog.text
