"""OpenTalk's own settings, read from OPENTALK_* variables.

OpenTalk has no API keys: the bot acts as a real OpenTalk user, with OIDC access tokens that a
confidential OIDC client obtains with that user's name and password (and refreshes before they expire).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import BlankMeansUnset, http_url_problem


class OpenTalkSettings(BlankMeansUnset):
    model_config = SettingsConfigDict(env_prefix="OPENTALK_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", env_ignore_empty=True)

    api_url: str | None = Field(
        default=None, description="OpenTalk controller API, ending in /v1 (e.g. https://controller.example.com/v1); "
                                  "unset = the built-in emulator")
    web_url: str | None = Field(
        default=None, description="OpenTalk web app that join links point to (e.g. https://opentalk.example.com)")
    oidc_issuer: str | None = Field(
        default=None, description="OIDC issuer URL (e.g. https://auth.example.com/realms/opentalk); "
                                  "unset = asked from the controller (GET /v1/auth/login)")
    client_id: str | None = Field(default=None, description="OIDC client id of meetops (a confidential client)")
    client_secret: SecretStr | None = Field(default=None, description="OIDC client secret of meetops")
    username: str | None = Field(default=None, description="the OpenTalk user meetops acts as")
    password: SecretStr | None = Field(default=None, description="that user's password")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="how long one action may wait for OpenTalk, retries included")

    @field_validator("api_url", "web_url", "oidc_issuer")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        if value and (problem := http_url_problem(value)):
            raise ValueError(f"{problem}; give an http(s) address")
        return value.strip().rstrip("/") if value else value

    @property
    def configured(self) -> bool:
        return bool(self.api_url)

    def problems(self) -> list[str]:
        """The settings still missing when OPENTALK_API_URL is set, each with what it is."""
        if not self.api_url:
            return []
        wanted = {
            "OPENTALK_WEB_URL": (self.web_url, "the OpenTalk web app's address, for join links"),
            "OPENTALK_CLIENT_ID": (self.client_id, "meetops' OIDC client id"),
            "OPENTALK_CLIENT_SECRET": (self.client_secret, "meetops' OIDC client secret"),
            "OPENTALK_USERNAME": (self.username, "the OpenTalk user meetops acts as"),
            "OPENTALK_PASSWORD": (self.password, "that user's password"),
        }
        return [f"{name} ({what})" for name, (value, what) in wanted.items() if not value]
