"""Digital Samba's own settings, read from DS_* variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import BlankMeansUnset, http_url_problem

DEFAULT_API_URL = "https://api.digitalsamba.com/api/v1"


class DigitalSambaSettings(BlankMeansUnset):
    model_config = SettingsConfigDict(env_prefix="DS_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    team_id: str | None = Field(default=None, description="Digital Samba team id (required with a developer key)")
    developer_key: SecretStr | None = Field(
        default=None, description="Digital Samba developer key; unset = the built-in emulator")
    api_url: str = Field(default=DEFAULT_API_URL, description="Digital Samba API base URL")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="how long one action may wait for Digital Samba, retries included")
    webhook_token: SecretStr | None = Field(
        default=None, description="the Authorization value Digital Samba's webhook deliveries must carry")

    @field_validator("api_url")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        # Malformed is said here, with or without `--no-check`; whether it answers is the start-up probe's.
        if problem := http_url_problem(value):
            raise ValueError(f"{problem}; give Digital Samba's API address, such as {DEFAULT_API_URL}")
        return value.strip().rstrip("/")

    @property
    def configured(self) -> bool:
        return self.developer_key is not None

    def problems(self) -> list[str]:
        if self.developer_key is not None and not self.team_id:
            return ["DS_TEAM_ID (your Digital Samba team id; required when DS_DEVELOPER_KEY is set)"]
        return []
