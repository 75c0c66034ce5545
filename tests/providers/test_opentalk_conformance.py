from tests.providers.conformance import ProviderConformance


class TestOpenTalk(ProviderConformance):
    provider_name = "opentalk"
