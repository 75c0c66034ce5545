"""Settings, read from the environment (and a `.env` file) and validated at start-up."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_core import PydanticUndefined

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# Slack user ids: U… for most workspaces, W… for Enterprise Grid.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {zone.casefold(): zone for zone in available_timezones()}


@cache
def _zones_by_city() -> dict[str, tuple[str, ...]]:
    by_city: dict[str, list[str]] = {}
    for zone in available_timezones():
        if zone.startswith("Etc/"):
            continue  # not cities: "GMT+2" would find Etc/GMT+2, which POSIX-style means two hours *behind* UTC
        by_city.setdefault(zone.rsplit("/", 1)[-1].casefold(), []).append(zone)
    return {city: tuple(sorted(zones)) for city, zones in by_city.items()}


# Abbreviations people write for their region's time, which keeps summer time: "EST" is also an IANA zone,
# UTC-5 all year, and a US team's digest would move by an hour in summer. Where an abbreviation names two
# regions, the person is asked which (each answer is an IANA name).
_ABBREVIATIONS = {
    "est": ("America/New_York",), "edt": ("America/New_York",),
    "cst": ("America/Chicago", "Asia/Shanghai"), "cdt": ("America/Chicago",),
    "mst": ("America/Denver", "America/Phoenix"), "mdt": ("America/Denver",),
    "pst": ("America/Los_Angeles",), "pdt": ("America/Los_Angeles",),
}


def _plain(text: str) -> str:
    """Without accents, in any case: IANA spells cities in ASCII (`Sao_Paulo`, `Zurich`)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).casefold()


def zone_candidates(name: str) -> tuple[str, ...]:
    """The IANA zones a name may mean: the zone itself given in any case (`europe/paris`), else the zones of
    that city (`Berlin`, `new york`, `São Paulo`), as people name their time zone; several when the city or
    abbreviation is ambiguous (`Eastern`: Canada/Eastern and US/Eastern; `EST`), none when there is no such
    zone."""
    folded = _plain(name.strip())
    if aliases := _ABBREVIATIONS.get(folded):
        return aliases
    if zone := _zones_by_folded_name().get(folded):
        return (zone,)
    return _zones_by_city().get("_".join(folded.split()), ()) if folded else ()


class ConfigError(Exception):
    """Start-up configuration is missing or wrong; the text names the settings at fault. `problems`: one line
    per setting at fault, when there is a list (so several reports can be said as one)."""

    def __init__(self, message: str, problems: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.problems = list(problems)


class BlankMeansUnset(BaseSettings):
    """Settings where a blank value (`SLACK_APP_TOKEN=`, `DS_DEVELOPER_KEY=' '`) means unset wherever it comes
    from (environment, .env, or arguments): the default applies, as if the line were not there. meetops' own
    settings and every provider's."""

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items()
                    if not (isinstance(value, str) and not value.strip())}
        return data


def http_url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) URL with a host, in words (None when it is one)."""
    url = urlsplit(value.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        return f"{value!r} is not a URL"
    return None


class Settings(BlankMeansUnset):
    """meetops' own settings. Each `description` is the meaning shown by `meetops serve --help` and in the
    README's settings table (both generated from this model by `settings_rows`)."""

    # An empty value (`SLACK_APP_TOKEN=`) means unset, in the environment and in .env alike.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    slack_bot_token: SecretStr | None = Field(
        default=None, description="the bot token, `xoxb-…` (required to serve)")
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="verifies that requests come from Slack (required in HTTP mode)")
    slack_app_token: SecretStr | None = Field(
        default=None, description="the app-level token, `xapp-…`; when set, meetops uses Socket Mode")
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, description="Slack Web API base URL")

    # Each provider's own settings live in its folder (bot/providers/<name>/settings.py, own env prefix).
    meetops_provider: str | None = Field(
        default=None, description="the default provider for new rooms (else the only one configured, else Digital "
                                  "Samba's emulator when none is; `serve` asks for it when several are)")

    meetops_db: str = Field(
        default="meetops.db", description="SQLite file: rooms, polls, streams, summaries, digests, audit log")
    meetops_admins: str = Field(
        default="", description="comma-separated Slack user ids (`U…`) who moderate every room")
    meetops_link_hours: float = Field(
        default=4.0, gt=0, le=24 * 7, description="how long a personal join link works")
    meetops_summary_poll_seconds: int = Field(
        default=60, ge=1, description="how often to ask whether a summary is ready")
    meetops_presence_seconds: int = Field(
        default=30, ge=1, description="how often to count who is in a live room, on platforms that don't report it")
    meetops_summary_max_wait_minutes: int = Field(
        default=180, ge=1, description="when to give up waiting for a summary")
    meetops_timezone: str = Field(
        default="UTC", description="digests' time zone when the person's Slack profile has none (an Area/City "
                                   "name in any case, or its city alone)")

    host: str = Field(default="127.0.0.1", description="where the HTTP server listens")
    port: int = Field(default=3000, ge=0, le=65535, description="the HTTP server's port")

    # Recordings meetops serves itself (providers whose recordings have no shareable link).
    meetops_public_url: str | None = Field(
        default=None, description="how people reach this server (default http://HOST:PORT); recording download "
                                  "links meetops serves itself start with it")
    meetops_download_secret: SecretStr | None = Field(
        default=None, description="signs recording download links; unset = a new one at each start, so links "
                                  "stop working after a restart")
    meetops_download_hours: float = Field(default=24.0, gt=0, le=24 * 7,
                                          description="how long a recording download link works")

    @field_validator("meetops_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if problem := http_url_problem(value):
            raise ValueError(f"{problem}; give the address people reach meetops at, such as "
                             "https://meetops.example.com")
        return value.strip().rstrip("/")

    @field_validator("slack_api_url")
    @classmethod
    def _an_http_url(cls, value: str, info: ValidationInfo) -> str:
        if problem := http_url_problem(value):
            example = cls.model_fields[info.field_name].default
            raise ValueError(f"{problem}; give an http(s) URL such as {example}")
        return value.strip()


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
        candidates = zone_candidates(value)
        if len(candidates) > 1:
            raise ValueError(f"time zone {value!r} could be {' or '.join(candidates)}; set the one you mean")
        if not candidates:
            raise ValueError(f"unknown time zone {value!r}; use an Area/City name such as Europe/Madrid")
        zone = candidates[0]
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

    def unknown_admins(self) -> list[str]:
        """MEETOPS_ADMINS entries that are not Slack user ids (a name such as `grace` matches no one)."""
        entries = dict.fromkeys(a.strip() for a in self.meetops_admins.split(",") if a.strip())  # as written
        return [entry for entry in entries if not SLACK_USER_ID.fullmatch(entry)]

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(hours=self.meetops_link_hours)

    def require_serving(self, also: list[str] | tuple[str, ...] = ()) -> None:
        """Serving Slack for real needs its credentials, and a developer key needs its team: name, in one
        message, every setting that is missing."""
        missing = []
        if self.slack_bot_token is None:
            missing.append("SLACK_BOT_TOKEN (the bot token, xoxb-…)")
        if self.socket_mode and not self.slack_app_token.get_secret_value().startswith("xapp-"):
            missing.append("SLACK_APP_TOKEN must be an app-level token (xapp-…, Basic Information → App-Level "
                           "Tokens), not a bot or user token")
        if not self.socket_mode and self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode, xapp-…)")
        missing.extend(also)  # the providers' own (e.g. a Digital Samba key without its team id)
        if missing:
            raise ConfigError("meetops cannot start; missing or wrong settings:\n  - " + "\n  - ".join(missing))


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's report into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("meetops cannot start; invalid settings:\n  - " + "\n  - ".join(lines), lines) from None


# -- the settings, described ---------------------------------------------------------------


def settings_models() -> list[type[BaseSettings]]:
    """Every settings model meetops reads, in the order they are documented: its own, then each provider's."""
    from bot.providers import registry

    return [Settings, *(plugin.settings_model for plugin in registry.plugins())]


def env_name(model: type[BaseSettings], field: str) -> str:
    info = model.model_fields[field]
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return (alias or (model.model_config.get("env_prefix") or "") + field).upper()


def settings_rows(models: list[type[BaseSettings]]) -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for every field of the given models, in declaration order."""
    rows = []
    for model in models:
        for field, info in model.model_fields.items():
            default = info.get_default(call_default_factory=True) if info.default is not PydanticUndefined \
                or info.default_factory else None
            shown = "—" if default in (None, "") else f"{default:g}" if isinstance(default, float) else str(default)
            rows.append((env_name(model, field), shown, info.description or ""))
    return rows


def settings_markdown(models: list[type[BaseSettings]]) -> str:
    """The README's settings table."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default, meaning in settings_rows(models):
        lines.append(f"| `{name}` | {default if default == '—' else f'`{default}`'} | {meaning} |")
    return "\n".join(lines) + "\n"


def settings_help(models: list[type[BaseSettings]]) -> str:
    """`meetops serve --help`'s list of settings: plain text, one setting a paragraph."""
    lines = ["settings (from the environment or ./.env; an empty value means unset):"]
    for name, default, meaning in settings_rows(models):
        plain_meaning = meaning.replace("**", "").replace("`", "")
        lines.append(f"  {name}" + ("" if default == "—" else f" (default {default})"))
        lines.append(f"      {plain_meaning}")
    return "\n".join(lines)
