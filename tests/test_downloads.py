"""Signed download links: what passes and what is refused (before anything is looked up)."""

from datetime import datetime, timedelta, timezone

import pytest

from bot.downloads import BadLink, link, sign, verify

SECRET = b"s" * 32
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_a_fresh_link_names_its_room_and_recording():
    token = sign(SECRET, room_id="r-1", recording_id="a-1", expires_at=NOW + timedelta(hours=1))
    ref = verify(SECRET, token, now=NOW)
    assert (ref.room_id, ref.recording_id) == ("r-1", "a-1")


def test_an_expired_link_is_refused():
    token = sign(SECRET, room_id="r-1", recording_id="a-1", expires_at=NOW)
    with pytest.raises(BadLink, match="expired"):
        verify(SECRET, token, now=NOW + timedelta(seconds=1))


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),          # signature changed
    lambda t: "x" + t,                                                     # payload changed
    lambda t: t.split(".")[0],                                             # signature dropped
    lambda t: sign(b"other" * 8, room_id="r-1", recording_id="a-1",
                   expires_at=NOW + timedelta(hours=1)),                   # another server's secret
    lambda t: "",
    lambda t: "." * 3,
])
def test_a_tampered_link_is_refused(tamper):
    token = sign(SECRET, room_id="r-1", recording_id="a-1", expires_at=NOW + timedelta(hours=1))
    with pytest.raises(BadLink):
        verify(SECRET, tamper(token), now=NOW)


def test_a_longer_expiry_cannot_be_forged():
    import base64
    import json

    token = sign(SECRET, room_id="r-1", recording_id="a-1", expires_at=NOW)
    payload, mac = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"r": "r-1", "a": "a-1", "e": int(NOW.timestamp()) + 99999})
                                      .encode()).rstrip(b"=").decode()
    with pytest.raises(BadLink, match="signature"):
        verify(SECRET, f"{forged}.{mac}", now=NOW)


def test_link_builds_a_url_under_the_base():
    url, expires = link("https://bot.example.com/", SECRET, room_id="r", recording_id="a", now=NOW,
                        lifetime=timedelta(hours=2))
    assert url.startswith("https://bot.example.com/downloads/") and expires == NOW + timedelta(hours=2)
    assert verify(SECRET, url.rsplit("/", 1)[1], now=NOW).recording_id == "a"


def test_serving_warns_when_download_links_would_not_work(caplog):
    """With HOST=0.0.0.0 (the README's HTTP example) and no MEETOPS_PUBLIC_URL, OpenTalk's download links went
    out as http://0.0.0.0:3000/…; without MEETOPS_DOWNLOAD_SECRET they break at every restart. Said at start."""
    import logging
    from types import SimpleNamespace

    from bot.config import load_settings
    from bot.providers.registry import ProviderSet
    from bot.runtime import Runtime

    serving_itself = SimpleNamespace(serves_recordings_through_meetops=True, title="OpenTalk")
    providers = ProviderSet({"opentalk": serving_itself}, "opentalk")
    runtime = Runtime(load_settings(_env_file=None, host="0.0.0.0", port=3000))
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        runtime._warn_about_download_links(SimpleNamespace(providers=providers))
    said = caplog.text
    assert "MEETOPS_PUBLIC_URL is not set, so the download links of OpenTalk recordings would start with " \
           "http://0.0.0.0:3000" in said
    assert "MEETOPS_DOWNLOAD_SECRET is not set" in said
    caplog.clear()
    configured = Runtime(load_settings(_env_file=None, host="0.0.0.0", meetops_public_url="https://bot.example.com",
                                       meetops_download_secret="s" * 32))
    configured._warn_about_download_links(SimpleNamespace(providers=providers))
    emulated = ProviderSet({"opentalk": serving_itself}, "opentalk", {"opentalk"})  # the console: nothing to say
    runtime._warn_about_download_links(SimpleNamespace(providers=emulated))
    assert "MEETOPS_" not in caplog.text
