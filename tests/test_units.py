"""Pure pieces: room names, command words, settings, log redaction."""

from __future__ import annotations

import logging

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.errors import BadInput
from bot.logs import SecretFilter
from bot.names import friendly_url_for, with_suffix
from commands.router import tokenize


@pytest.mark.parametrize("name, slug", [
    ("standup", "standup"),
    ("Design Review!", "design-review"),
    ("Café Besprechung", "cafe-besprechung"),
    ("  Q3   planning  ", "q3-planning"),
    ("x" * 32, "x" * 32),
])
def test_room_names_become_url_safe_link_names(name, slug):
    assert friendly_url_for(name) == slug


def test_names_without_an_ascii_spelling_still_get_a_link_name():
    slug = friendly_url_for("会議室")
    assert slug.startswith("room-") and 3 <= len(slug) <= 32


@pytest.mark.parametrize("name, says", [
    ("x" * 33, "at most 32 characters"),
    ("!!! ???", "at least one letter or digit"),
    ("ab", "at least 3"),
])
def test_bad_room_names_are_refused_with_a_reason(name, says):
    with pytest.raises(BadInput, match=says):
        friendly_url_for(name)


def test_suffix_keeps_link_names_within_32_characters():
    assert with_suffix("standup", 2) == "standup-2"
    assert len(with_suffix("a" * 32, 17)) == 32


def test_curly_and_straight_quotes_split_the_same():
    straight = tokenize('poll standup "Where to?" "Pizza place" Sushi')
    curly = tokenize("poll standup \u201cWhere to?\u201d \u201cPizza place\u201d Sushi")
    assert straight == curly == ["poll", "standup", "Where to?", "Pizza place", "Sushi"]


def test_unclosed_quote_is_explained():
    with pytest.raises(BadInput, match="not closed"):
        tokenize('poll standup "Where to?')


def test_settings_name_what_is_wrong():
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None, port="not-a-port", meetops_timezone="Mars/Olympus")
    assert "PORT" in str(info.value) and "MEETOPS_TIMEZONE" in str(info.value)


def test_serving_slack_requires_its_credentials():
    settings = Settings(_env_file=None)
    with pytest.raises(ConfigError) as info:
        settings.require_slack()
    assert "SLACK_BOT_TOKEN" in str(info.value) and "SLACK_SIGNING_SECRET" in str(info.value)


def test_a_developer_key_without_team_is_refused():
    with pytest.raises(ConfigError, match="DS_TEAM_ID"):
        load_settings(_env_file=None, ds_developer_key="k")


def test_no_developer_key_means_sandbox():
    assert Settings(_env_file=None).sandbox
    assert not Settings(_env_file=None, ds_developer_key="k", ds_team_id="t").sandbox


def test_log_filter_masks_known_secrets_tokens_and_join_links():
    f = SecretFilter()
    f.add("super-secret-developer-key")
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "key=%s bot=%s link=%s", ("super-secret-developer-key", "xoxb-123-456-abc",
                               "https://t.example/r?token=eyJhbGciOiJI.eyJ0ZCI6InQifQ.c2lnbmF0dXJl"), None)
    f.filter(record)
    text = record.getMessage()
    assert "super-secret" not in text and "xoxb-123" not in text and "eyJ0ZCI6" not in text
    assert text.count("***") == 3
