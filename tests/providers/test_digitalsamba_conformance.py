from tests.providers.conformance import ProviderConformance


class TestDigitalSamba(ProviderConformance):
    provider_name = "digitalsamba"
