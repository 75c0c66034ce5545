"""Pure pieces: room names, command words, settings, log redaction."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.config import ConfigError, Settings, load_settings, zone_candidates
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
    ("ab", "at least 3 characters; `ab` has 2"),
    ("日", "at least 3 characters; `日` has 1"),  # the same rule in every script
    ("a!!", "would make the link name `a`"),
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


def test_apostrophes_straight_or_curly_stay_inside_words():
    assert tokenize("new Bob\u2019s room") == ["new", "Bob\u2019s", "room"]
    assert tokenize("new it's \u201cfine\u201d") == ["new", "it's", "fine"]


def test_slack_escaping_is_undone_before_splitting():
    assert tokenize('new "Tom &amp; Jerry" &lt;b&gt;') == ["new", "Tom & Jerry", "<b>"]


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
        settings.require_serving()
    assert "SLACK_BOT_TOKEN" in str(info.value) and "SLACK_SIGNING_SECRET" in str(info.value)
    assert "DS_TEAM_ID" not in str(info.value)  # the sandbox needs no team


def test_everything_missing_for_serving_is_named_at_once():
    from bot.providers.digitalsamba.settings import DigitalSambaSettings

    settings = load_settings(_env_file=None)
    ds = DigitalSambaSettings(_env_file=None, developer_key="k")  # loading alone does not refuse it
    with pytest.raises(ConfigError) as info:
        settings.require_serving(ds.problems())
    message = str(info.value)
    assert "DS_TEAM_ID" in message and "SLACK_BOT_TOKEN" in message and "SLACK_SIGNING_SECRET" in message


def test_a_developer_key_without_team_is_refused_when_serving():
    from bot.providers.digitalsamba.settings import DigitalSambaSettings

    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s")
    with pytest.raises(ConfigError, match="DS_TEAM_ID"):
        settings.require_serving(DigitalSambaSettings(_env_file=None, developer_key="k").problems())
    settings.require_serving(DigitalSambaSettings(_env_file=None, developer_key="k", team_id="t").problems())


def test_registering_webhooks_needs_a_team(monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("DS_DEVELOPER_KEY", "k")
    monkeypatch.delenv("DS_TEAM_ID", raising=False)
    monkeypatch.setattr(Settings, "model_config", {**Settings.model_config, "env_file": None})
    with pytest.raises(SystemExit) as exit_:
        main(["webhooks", "register", "--url", "https://bot.example/webhooks/digitalsamba"])
    assert exit_.value.code == 2
    assert "DS_TEAM_ID" in capsys.readouterr().err


@pytest.mark.parametrize("name, zones", [
    ("utc", ("UTC",)),
    ("UTC", ("UTC",)),
    ("europe/paris", ("Europe/Paris",)),
    (" America/New_York ", ("America/New_York",)),
    # By the city alone, as people name their zone; a city of two words in two words.
    ("Berlin", ("Europe/Berlin",)),
    ("new  york", ("America/New_York",)),
    ("Port-au-Prince", ("America/Port-au-Prince",)),
    ("Eastern", ("Canada/Eastern", "US/Eastern")),  # ambiguous: both, for the person to choose
    # Accents as people write them; IANA spells its cities in ASCII.
    ("São Paulo", ("America/Sao_Paulo",)),
    ("Zürich", ("Europe/Zurich",)),
    # A region's abbreviation means its time with summer time, not IANA's "EST" (UTC-5 all year).
    ("EST", ("America/New_York",)),
    ("pst", ("America/Los_Angeles",)),
    ("CST", ("America/Chicago", "Asia/Shanghai")),
    # An offset is no city: Etc/GMT+2 is two hours behind UTC, the opposite of what "GMT+2" means to people.
    ("GMT+2", ()),
    ("UTC+2", ()),
    ("Etc/GMT+2", ("Etc/GMT+2",)),  # the IANA name itself, typed in full, is taken as it is
    ("Mars/Olympus", ()),
    ("Olympus", ()),
    ("", ()),
])
def test_time_zone_names_are_matched_in_any_case_or_by_city(name, zones):
    assert zone_candidates(name) == zones


def test_the_time_zone_setting_takes_any_case():
    assert load_settings(_env_file=None, meetops_timezone="europe/madrid").meetops_timezone == "Europe/Madrid"


def test_sandbox_on_a_busy_port_says_so_before_printing_credentials(capsys):
    import socket

    from bot.sandbox import serve_sandbox

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            serve_sandbox(port=port)
    out = capsys.readouterr()
    assert exit_.value.code == 2
    assert out.out == ""  # no team id or developer key that would never work
    assert f"{port}" in out.err and len(out.err.strip().splitlines()) == 1


def test_no_developer_key_means_sandbox():
    from bot.providers.digitalsamba.settings import DigitalSambaSettings

    assert not DigitalSambaSettings(_env_file=None).configured
    assert DigitalSambaSettings(_env_file=None, developer_key="k", team_id="t").configured


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


@pytest.mark.parametrize("seconds, reads", [(0, "under a minute"), (59, "under a minute"), (60, "1 min"),
                                             (2700, "45 min"), (5400, "1 h 30 min"), (10800, "3 h"),
                                             (None, "unknown length")])
def test_durations_read_naturally(seconds, reads):
    from bot.blocks import format_duration

    assert format_duration(seconds) == reads


def test_post_failures_say_whether_inviting_the_bot_helps():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    from bot.messaging import cannot_post

    def failure(status, data):
        return SlackApiError("failed", SlackResponse(client=None, http_verb="POST", api_url="x", req_args={},
                                                     data=data, headers={}, status_code=status))

    assert cannot_post("C1", failure(200, {"ok": False, "error": "not_in_channel"})) == (
        "I can't post in <#C1> (not_in_channel). Invite me there with `/invite @meetops`, then try again.")
    assert cannot_post("C1", failure(500, {})) == (
        "Slack didn't take my message in <#C1> (HTTP 500). Please try again in a minute.")


async def test_serve_refuses_a_bot_token_slack_rejects_and_says_which():
    from bot.cli import check_slack_token
    from bot.devtools.slack_double import SlackDouble

    with SlackDouble() as double:
        good = Settings(_env_file=None, slack_bot_token=double.bot_token, slack_api_url=double.api_url)
        await check_slack_token(good)  # accepted: no error
        wrong = Settings(_env_file=None, slack_bot_token="xoxb-not-the-token", slack_api_url=double.api_url)
        with pytest.raises(ConfigError, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)") as info:
            await check_slack_token(wrong)
        assert "xoxb-not-the-token" not in str(info.value)


async def test_turns_run_one_at_a_time_per_key_and_are_forgotten_after():
    from bot.services import Services

    services = Services.__new__(Services)
    services._turns = {}
    order = []

    async def hold(key, name):
        async with services.turn(key):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(hold("a", "first"), hold("a", "second"), hold("b", "other"))
    assert order.index("first out") < order.index("second in")  # the same key waits its turn
    assert order.index("other in") < order.index("first out")  # another key doesn't
    assert services._turns == {}  # nothing kept once nobody holds or waits


@pytest.mark.parametrize("span, reads", [
    (timedelta(hours=1), "1 hour"), (timedelta(minutes=30), "30 minutes"), (timedelta(days=7), "7 days"),
    (timedelta(hours=1.5), "1 hour 30 minutes"), (timedelta(hours=0.01), "36 seconds"),
    (timedelta(seconds=1), "1 second"),
])
def test_link_lifetimes_read_in_natural_units_never_longer_than_they_are(span, reads):
    """MEETOPS_LINK_HOURS=0.01 (36 s) read "It works for 1 minute"."""
    from bot.text import natural_duration

    assert natural_duration(span) == reads
