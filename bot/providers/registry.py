"""Which providers exist, imported only when asked for (a provider's client, emulator and
dependencies cost nothing until it is used).

Adding a provider: its folder `bot/providers/<name>/` exporting `PLUGIN`, its emulator in
`bot/sandbox/<name>/`, one line in `DRIVERS`, and the docs.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from functools import cache

from bot.errors import MeetopsError
from bot.providers.base import Capability, Provider, ProviderPlugin

log = logging.getLogger(__name__)

# name -> module exporting PLUGIN. The first is the default when nothing is configured.
DRIVERS: dict[str, str] = {
    "digitalsamba": "bot.providers.digitalsamba",
    "eyeson": "bot.providers.eyeson",
    "chalk": "bot.providers.chalk",
    "opentalk": "bot.providers.opentalk",
}


class UnknownProvider(MeetopsError):
    def __init__(self, name: str):
        super().__init__(f"I don't know the provider `{name[:40]}`. Known: {', '.join(DRIVERS)}.")


@cache
def load(name: str) -> ProviderPlugin:
    module = DRIVERS.get((name or "").strip().lower())
    if module is None:
        raise UnknownProvider(name)
    return importlib.import_module(module).PLUGIN


def plugins() -> list[ProviderPlugin]:
    return [load(name) for name in DRIVERS]


@dataclass
class ProviderSet:
    """The providers this process runs, built at start-up: each on real credentials or on its emulator."""

    providers: dict[str, Provider]
    default_name: str
    emulated: set[str] = field(default_factory=set)  # names running on their local emulator

    @property
    def default(self) -> Provider:
        return self.providers[self.default_name]

    def get(self, name: str | None) -> Provider:
        """The provider a room was made on (rooms from before providers existed are Digital Samba's)."""
        name = (name or "digitalsamba").lower()
        provider = self.providers.get(name)
        if provider is None:
            if name in DRIVERS:
                raise MeetopsError(f"This room lives on {load(name).title}, which this meetops is not set up "
                                   "for any more. Ask your admin to configure it again.")
            raise UnknownProvider(name)
        return provider

    def pick(self, name: str | None) -> Provider:
        """For a new room: the named one (`--provider eyeson`) or the default."""
        if not name:
            return self.default
        key = "".join(name.split()).lower()  # as named or as titled: `Digital Samba` is digitalsamba
        available = ", ".join(f"`{other}`" for other in self.providers)
        if key not in self.providers:
            if key in DRIVERS:
                raise MeetopsError(f"{load(key).title} is not set up here. Available here: {available}.")
            raise MeetopsError(f"I don't know the provider `{name[:40]}`. Available here: {available}.")
        return self.providers[key]

    def emulated_here(self, name: str | None) -> bool:
        return (name or "digitalsamba") in self.emulated

    def with_capability(self, capability: Capability) -> list[Provider]:
        return [p for p in self.providers.values() if capability in p.capabilities]

    async def aclose(self) -> None:
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:
                log.exception("closing the %s client failed", provider.name)
