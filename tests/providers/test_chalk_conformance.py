from tests.providers.conformance import ProviderConformance


class TestChalk(ProviderConformance):
    provider_name = "chalk"

    async def record_a_meeting(self, plugin, provider, control, room) -> None:
        """A recording stopped from Slack is still being processed at Chalk; its post-meeting webhook is what
        says it is ready, so the emulator delivers a finished one to a tenant that has one set up."""
        await provider.register_webhook("http://127.0.0.1:9/webhooks/chalk")
        (await control.post(f"/rooms/{room.id}/recording", json={})).raise_for_status()
