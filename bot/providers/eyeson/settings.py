"""Eyeson's own settings, read from EYESON_* variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import BlankMeansUnset, http_url_problem

DEFAULT_API_URL = "https://api.eyeson.team"


class EyesonSettings(BlankMeansUnset):
    model_config = SettingsConfigDict(env_prefix="EYESON_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", env_ignore_empty=True)

    api_key: SecretStr | None = Field(
        default=None,
        description="Eyeson API key (it also signs Eyeson's webhook deliveries); unset = the built-in emulator")
    api_url: str = Field(default=DEFAULT_API_URL, description="Eyeson API base URL")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="how long one action may wait for Eyeson, retries included")

    @field_validator("api_url")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        if problem := http_url_problem(value):
            raise ValueError(f"{problem}; give Eyeson's API address, such as {DEFAULT_API_URL}")
        return value.strip().rstrip("/")

    @property
    def configured(self) -> bool:
        return self.api_key is not None
