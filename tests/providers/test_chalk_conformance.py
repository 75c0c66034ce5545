from tests.providers.conformance import ProviderConformance


class TestChalk(ProviderConformance):
    provider_name = "chalk"
