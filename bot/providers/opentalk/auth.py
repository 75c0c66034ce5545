"""The bot's OpenTalk identity: OIDC access tokens of a real OpenTalk user, fetched and refreshed by authlib.

OpenTalk has no API keys. meetops is a confidential OIDC client (client id + secret) that signs in as
the bot's OpenTalk user with the password grant, then keeps the access token fresh with the refresh
token before it expires. authlib's httpx client does the OAuth 2 parts (grant bodies, client
authentication, token parsing, `expires_at` bookkeeping, error responses); this module only decides
*when*:

- one token operation at a time (an `asyncio.Lock`): fifty calls that find the token stale wait for the
  one refresh, then all use its result (no refresh storm);
- a token is renewed `leeway` seconds before it expires, so calls rarely meet an expired one;
- a `401` whose `WWW-Authenticate` says `invalid_token` (revoked, or expired early: clock skew) is
  answered by one refresh and one retry of that request; a second 401 is reported;
- a refresh token that is refused falls back to signing in again with the password.

Nothing here logs a token, a password or a token endpoint's answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

import warnings

import httpx
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # authlib >= 1.7 nudges towards the httpx2 fork; meetops uses plain httpx everywhere.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from bot.errors import ProviderAuthError, ProviderUnavailable
from bot.providers.http import tls_context

log = logging.getLogger(__name__)

# Which settings an admin checks for each OAuth error (RFC 6749 §5.2 codes).
_SETTING_AT_FAULT = {
    "invalid_grant": "OPENTALK_USERNAME and OPENTALK_PASSWORD",
    "invalid_client": "OPENTALK_CLIENT_ID and OPENTALK_CLIENT_SECRET",
    "unauthorized_client": "OPENTALK_CLIENT_ID (the client must allow the password grant)",
    "unsupported_grant_type": "OPENTALK_CLIENT_ID (the client must allow the password grant)",
    "invalid_scope": "OPENTALK_CLIENT_ID (its scopes)",
}


class OpenTalkAuthError(ProviderAuthError):
    """The sign-in was refused; `setting` names what an admin must fix."""

    def __init__(self, message: str, setting: str):
        super().__init__(message, status=401)
        self.setting = setting


class OidcTokens(httpx.Auth):
    """An httpx.Auth that puts a fresh `Bearer` access token on every OpenTalk request."""

    requires_response_body = False

    def __init__(self, *, api_url: str, client_id: str, client_secret: str, username: str, password: str,
                 issuer: str | None = None, timeout: float = 10.0, leeway: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self._api_url = api_url.rstrip("/")
        self._issuer = issuer.rstrip("/") if issuer else None
        self._username = username
        self._password = password
        self._leeway = leeway
        self._oauth = AsyncOAuth2Client(
            client_id=client_id, client_secret=client_secret,
            # Keycloak (OpenTalk's usual IdP) accepts both; the body form works with every IdP.
            token_endpoint_auth_method="client_secret_post",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), transport=transport,
            verify=tls_context())
        self._token_endpoint: str | None = None
        self._lock = asyncio.Lock()
        # How often each grant ran: tests (and the curious) read these.
        self.sign_ins = 0
        self.refreshes = 0

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"OidcTokens(user={self._username!r}, ***)"

    async def aclose(self) -> None:
        await self._oauth.aclose()

    # -- httpx.Auth --------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request):
        raise RuntimeError("OpenTalk's auth is async only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and "invalid_token" in response.headers.get("www-authenticate", ""):
            # Revoked or expired early: one renewal (shared by every call that saw the same token), one retry.
            token = await self.access_token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    # -- tokens ------------------------------------------------------------------------

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid access token. `stale`: the token the server just refused; it is renewed unless
        another call already did."""
        async with self._lock:
            token = self._oauth.token
            current = token.get("access_token") if token else None
            # Renew `leeway` seconds early, but never so early that a short-lived token is always stale.
            leeway = min(self._leeway, float(token.get("expires_in") or 60) / 4) if token else 0
            if current and current != stale and not token.is_expired(leeway=leeway):
                return current
            if token and token.get("refresh_token"):
                try:
                    await self._refresh(token["refresh_token"])
                    return self._oauth.token["access_token"]
                except OpenTalkAuthError:
                    # The refresh token was revoked or ran out: sign in again.
                    log.info("OpenTalk refresh token refused; signing in again")
            await self._sign_in()
            return self._oauth.token["access_token"]

    async def _refresh(self, refresh_token: str) -> None:
        endpoint = await self._endpoint()
        self.refreshes += 1
        await self._call(self._oauth.refresh_token(endpoint, refresh_token=refresh_token))

    async def _sign_in(self) -> None:
        endpoint = await self._endpoint()
        self.sign_ins += 1
        await self._call(self._oauth.fetch_token(endpoint, grant_type="password", username=self._username,
                                                 password=self._password))

    async def _call(self, operation) -> None:
        try:
            await operation
        except OAuthError as exc:
            setting = _SETTING_AT_FAULT.get(exc.error or "", "OPENTALK_CLIENT_ID, OPENTALK_USERNAME and the rest")
            raise OpenTalkAuthError(
                f"OpenTalk's sign-in service refused the bot's credentials. An admin needs to check {setting}.",
                setting) from None
        except httpx.HTTPStatusError as exc:
            raise ProviderUnavailable(
                f"OpenTalk's sign-in service had a problem (HTTP {exc.response.status_code}). "
                "Please try again in a minute.", status=exc.response.status_code) from None
        except httpx.HTTPError:
            raise ProviderUnavailable(
                "OpenTalk's sign-in service is not answering. Please try again in a minute.") from None

    async def _endpoint(self) -> str:
        """The token endpoint, from the issuer's discovery document (the issuer from OPENTALK_OIDC_ISSUER, or
        asked from the controller's GET /auth/login)."""
        if self._token_endpoint:
            return self._token_endpoint
        issuer = self._issuer or await self._issuer_from_controller()
        document = await self._get_json(f"{issuer}/.well-known/openid-configuration", "OPENTALK_OIDC_ISSUER",
                                        "OpenTalk's sign-in service", f" (the OIDC issuer {issuer})")
        endpoint = document.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise OpenTalkAuthError(f"The OIDC issuer {issuer} has no token endpoint in its discovery document. "
                                    "An admin needs to check OPENTALK_OIDC_ISSUER.", "OPENTALK_OIDC_ISSUER")
        self._token_endpoint = endpoint
        return endpoint

    async def _issuer_from_controller(self) -> str:
        body = await self._get_json(f"{self._api_url}/auth/login", "OPENTALK_API_URL", "OpenTalk", "")
        oidc = body.get("oidc") if isinstance(body.get("oidc"), dict) else {}
        url = oidc.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise OpenTalkAuthError("The OpenTalk controller did not say which OIDC issuer it uses. "
                                    "Set OPENTALK_OIDC_ISSUER, or check OPENTALK_API_URL.", "OPENTALK_OIDC_ISSUER")
        return url.rstrip("/")

    async def _get_json(self, url: str, setting: str, who: str, where: str) -> dict[str, Any]:
        """A JSON document; `who` names the service in words, `where` adds its address for admins."""
        try:
            response = await self._oauth.request("GET", url, withhold_token=True)
        except httpx.HTTPError:
            raise ProviderUnavailable(f"I can't reach {who} right now. Please try again in a minute.") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"{who} had an internal error (HTTP {response.status_code}). "
                                      "Please try again in a minute.", status=response.status_code)
        try:
            body = response.json() if response.is_success else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OpenTalkAuthError(f"{who}{where} did not answer as expected (HTTP {response.status_code}). "
                                    f"An admin needs to check {setting}.", setting)
        return body
