"""Chalk's own settings, read from CHALK_* variables.

Chalk hands out tokens, not links: each deployment hosts its own meeting page (Chalk's SDK), and
CHALK_JOIN_URL is that page's address as a template meetops fills with the room, the person's token and
their name.
"""

from __future__ import annotations

from string import Formatter
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import BlankMeansUnset

JOIN_FIELDS = frozenset({"room", "token", "name"})
EXAMPLE_JOIN_URL = "https://meet.example.com/join?room={room}&token={token}&name={name}"
KEY_PREFIXES = ("ck_live_", "ck_test_")


def join_template_problem(template: str) -> str | None:
    """Why a CHALK_JOIN_URL template cannot be used, in words (None when it can)."""
    try:
        names = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError:
        return (f"CHALK_JOIN_URL is not a valid template (a stray brace?). Write it like {EXAMPLE_JOIN_URL} "
                "(write a literal brace as {{ or }}).")
    parts = urlsplit(template.replace("{", "").replace("}", ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"CHALK_JOIN_URL must be your meeting page's http(s) address, like {EXAMPLE_JOIN_URL}."
    unknown = names - JOIN_FIELDS
    if unknown:
        return (f"CHALK_JOIN_URL has placeholder(s) meetops cannot fill: {', '.join('{' + n + '}' for n in sorted(unknown))}. "
                "Use {room}, {token} and {name}.")
    if "token" not in names:
        return (f"CHALK_JOIN_URL has no {{token}}: without the person's token the page cannot let them in. "
                f"Write it like {EXAMPLE_JOIN_URL}.")
    return None


class ChalkSettings(BlankMeansUnset):
    model_config = SettingsConfigDict(env_prefix="CHALK_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", env_ignore_empty=True,
                                      # a refused key must not be echoed in the error
                                      hide_input_in_errors=True)

    api_url: str | None = Field(
        default=None, description="Chalk API base URL of your deployment, ending in /api/v1 "
                                  "(e.g. https://chalk.example.com/api/v1)")
    api_key: SecretStr | None = Field(
        default=None, description="Chalk tenant API key (ck_live_… or ck_test_…), exchanged for hour-long "
                                  "tokens; unset = the built-in emulator")
    join_url: str | None = Field(
        default=None, description="your meeting page (it embeds Chalk's SDK) as a template with {room}, "
                                  "{token} and {name}, e.g. " + EXAMPLE_JOIN_URL)
    webhook_secret: SecretStr | None = Field(
        default=None, description="the secret of the tenant's post-meeting webhook; deliveries to "
                                  "/webhooks/chalk must be signed with it")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="how long one action may wait for Chalk, retries included")
    max_participants: int = Field(default=100, ge=2, le=10_000,
                                  description="how many people a new Chalk room lets in")
    recording_enabled: bool = Field(default=True, description="whether new Chalk rooms can be recorded")
    chat_enabled: bool = Field(default=True, description="whether new Chalk rooms have in-meeting chat")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("CHALK_API_URL must be an http(s) address ending in /api/v1")
        if not parts.path.endswith("/api/v1"):
            raise ValueError(f"CHALK_API_URL must end in /api/v1 (Chalk's routes live there), e.g. "
                             f"{parts.scheme}://{parts.netloc}/api/v1")
        return value

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip().startswith(KEY_PREFIXES):
            # Never echo the value: it is a secret even when it is the wrong one.
            raise ValueError("CHALK_API_KEY must be a Chalk tenant API key starting with ck_live_ or ck_test_")
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("join_url")
    @classmethod
    def _join_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = join_template_problem(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()

    @property
    def configured(self) -> bool:
        return self.api_key is not None

    def problems(self) -> list[str]:
        if self.api_key is None:
            return []
        missing = []
        if not self.api_url:
            missing.append("CHALK_API_URL (your Chalk API, ending in /api/v1; required when CHALK_API_KEY is set)")
        if not self.join_url:
            missing.append(f"CHALK_JOIN_URL (your meeting page, e.g. {EXAMPLE_JOIN_URL}; required when "
                           "CHALK_API_KEY is set)")
        return missing
