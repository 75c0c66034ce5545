"""manifest.yml creates the app as-is: every command and interaction the code registers is in it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_bolt.async_app import AsyncApp

import commands
from bot.boundary import GuardedApp

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


def registered() -> list[tuple[str, object]]:
    app = GuardedApp(AsyncApp(token="xoxb-test", signing_secret="test"))
    commands.register(app)
    return app.registered


def test_every_registered_command_is_in_the_manifest():
    in_manifest = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    in_code = {matcher for kind, matcher in registered() if kind == "command"}
    assert in_code, "the app registers at least /meet"
    assert in_code <= in_manifest, f"missing from manifest.yml: {in_code - in_manifest}"


def test_buttons_and_modals_need_interactivity_and_it_is_on():
    kinds = {kind for kind, _ in registered()}
    assert {"action", "view"} <= kinds, "buttons and modal submissions both arrive through interactivity"
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


# The bot scope(s) each Web API method needs (https://api.slack.com/methods); None: no scope.
# conversations.replies / .history: a post a crash (or a timeout) left unconfirmed (a summary, a room
# message) is looked for by its message metadata before it is posted again, so it appears once. Slack asks
# for the *:history scope of the conversation's type: channels:history (public channels) and groups:history
# (private channels). im:history and mpim:history are left out on purpose: room messages and summaries go to
# channels; in a DM the bot can't read, an unconfirmed post is posted again rather than lost.
HISTORY = ("channels:history", "groups:history")
SCOPE_OF = {
    "chat_postMessage": "chat:write", "chat_update": "chat:write", "chat_postEphemeral": "chat:write",
    "chat_delete": "chat:write", "chat_getPermalink": None, "users_info": "users:read",
    "conversations_open": "im:write", "views_open": None, "views_update": None, "views_push": None,
    "auth_test": None, "conversations_replies": HISTORY, "conversations_history": HISTORY,
}


def scopes_of(method: str) -> set[str]:
    scope = SCOPE_OF[method]
    return set() if scope is None else {scope} if isinstance(scope, str) else set(scope)


def test_scopes_are_the_ones_the_bot_uses_and_no_more():
    root = Path(__file__).resolve().parents[1]
    source = "\n".join(p.read_text() for folder in ("bot", "commands") for p in (root / folder).rglob("*.py")
                       if "devtools" not in p.parts and "sandbox" not in p.parts)
    used = set(re.findall(r"\.((?:chat|users|conversations|views|auth)_\w+)\(", source))
    unknown = used - set(SCOPE_OF)
    assert not unknown, f"add the scope of {unknown} to SCOPE_OF (and manifest.yml)"
    needed = set().union(*(scopes_of(m) for m in used)) | {"commands"}
    # chat:write.public: post the room message in a public channel without an invitation first.
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert needed <= scopes, f"missing scopes: {needed - scopes}"
    # users:read.email: users.info shows `profile.email` only with it; people.py reads it (accounts, invitations).
    if 'profile.get("email")' in (root / "bot" / "people.py").read_text():
        needed.add("users:read.email")
    assert needed <= scopes, f"missing scopes: {needed - scopes}"
    assert scopes - needed <= {"chat:write.public"}, f"scopes nothing uses: {scopes - needed}"


def test_socket_mode_is_on_so_it_installs_without_a_public_url():
    assert MANIFEST["settings"]["socket_mode_enabled"] is True


def test_history_scopes_are_there_because_unconfirmed_posts_are_looked_for():
    """Reading history is a broad permission: it is asked for only because the bot reads threads (and only
    public and private channels', not DMs')."""
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert set(HISTORY) <= scopes
    assert not scopes & {"im:history", "mpim:history", "channels:read", "groups:read", "channels:join"}


def test_the_usage_hint_lists_every_subcommand_as_the_router_has_it():
    from bot.devtools import manifest

    usages = manifest.router_usages()
    hint = MANIFEST["features"]["slash_commands"][0]["usage_hint"]
    assert hint == manifest.usage_hint(usages), "stale: run `python -m bot.devtools.manifest` to refresh manifest.yml"
    for usage in usages:
        name = usage.removeprefix("/meet").split()[0]
        assert f"[{name} " in hint or f"| {name} " in hint or f"| {name}]" in hint, name
    assert len(hint) <= 1000, "Slack's limit for a usage hint"


def test_the_generator_rewrites_only_the_hint_line(tmp_path):
    from bot.devtools import manifest

    stale = tmp_path / "manifest.yml"
    original = (Path(__file__).resolve().parents[1] / "manifest.yml").read_text()
    stale.write_text(original.replace("| post <room> ", ""))
    assert manifest.main(["--check", "--manifest", str(stale)]) == 1, "a hint missing a subcommand is stale"
    assert manifest.main(["--manifest", str(stale)]) == 0
    assert stale.read_text() == original, "regenerated exactly, comments and all"
    assert manifest.main(["--check", "--manifest", str(stale)]) == 0


def test_the_app_description_names_every_platform_meetops_runs_on():
    """It said 'powered by Digital Samba' after three more platforms came."""
    from bot.providers import registry

    description = MANIFEST["display_information"]["description"]
    assert all(registry.load(name).title in description for name in registry.DRIVERS)
    assert len(description) <= 139  # Slack's limit for a short description
