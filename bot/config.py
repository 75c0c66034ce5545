"""Settings, read from the environment (and a `.env` file) and validated at start-up."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {zone.casefold(): zone for zone in available_timezones()}


def canonical_zone(name: str) -> str | None:
    """The IANA spelling of a time zone name given in any case (`utc` -> `UTC`, `europe/paris` -> `Europe/Paris`),
    or None when there is no such zone."""
    return _zones_by_folded_name().get(name.strip().casefold())


class ConfigError(Exception):
    """Start-up configuration is missing or wrong; the text names the settings at fault."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL

    # Each provider's own settings live in its folder (bot/providers/<name>/settings.py, own env prefix).
    meetops_provider: str | None = None  # the default provider for new rooms

    meetops_db: str = "meetops.db"
    meetops_admins: str = ""
    meetops_link_hours: float = Field(default=4.0, gt=0, le=24 * 7)
    meetops_summary_poll_seconds: int = Field(default=60, ge=1)
    meetops_presence_seconds: int = Field(default=30, ge=1)  # live counts, on platforms that don't report them
    meetops_summary_max_wait_minutes: int = Field(default=180, ge=1)
    meetops_timezone: str = "UTC"

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url_ends_with_slash(cls, value: str) -> str:
        # slack-sdk joins method names onto the base URL verbatim.
        return value if value.endswith("/") else value + "/"

    @field_validator("meetops_provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from bot.providers.registry import DRIVERS

        key = value.strip().lower()
        if key not in DRIVERS:
            raise ValueError(f"unknown provider {value!r}; choose one of {', '.join(DRIVERS)}")
        return key

    @field_validator("meetops_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone = canonical_zone(value)
        if zone is None:
            raise ValueError(f"unknown time zone {value!r}; use an Area/City name such as Europe/Madrid")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time zone {value!r} cannot be loaded on this machine")
        return zone

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.meetops_admins.split(",") if a.strip())

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(hours=self.meetops_link_hours)

    def require_serving(self, also: list[str] | tuple[str, ...] = ()) -> None:
        """Serving Slack for real needs its credentials, and a developer key needs its team: name, in one
        message, every setting that is missing."""
        missing = []
        if self.slack_bot_token is None:
            missing.append("SLACK_BOT_TOKEN (the bot token, xoxb-…)")
        if not self.socket_mode and self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode, xapp-…)")
        missing.extend(also)  # the providers' own (e.g. a Digital Samba key without its team id)
        if missing:
            raise ConfigError("meetops cannot start; missing settings:\n  - " + "\n  - ".join(missing))


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's report into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("meetops cannot start; invalid settings:\n  - " + "\n  - ".join(lines)) from None
