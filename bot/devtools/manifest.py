"""The `/meet` usage hint in manifest.yml, generated from the router rather than copied by hand.

    python -m bot.devtools.manifest           # rewrite the hint in manifest.yml
    python -m bot.devtools.manifest --check   # exit 1 when it is stale (tests/test_manifest.py checks the same)

Only the `usage_hint:` line changes, so the manifest's comments stay as they are.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
COMMAND = "/meet"
MAX_HINT = 1000  # Slack's manifest schema: slash_commands[].usage_hint maxLength
_HINT_LINE = re.compile(r"^(?P<indent>\s*)usage_hint:.*$", re.MULTILINE)


def usage_hint(usages: list[str]) -> str:
    """`[new <name> … | join <room> | …]` from each subcommand's usage (`/meet new <name> …`)."""
    words = [_grouped(usage.removeprefix(COMMAND).strip()) for usage in usages]
    hint = "[" + " | ".join(w for w in words if w) + "]"
    if len(hint) > MAX_HINT:
        raise ValueError(f"the usage hint has {len(hint)} characters; Slack takes at most {MAX_HINT}")
    return hint


def _grouped(usage: str) -> str:
    """`digest daily … | off` -> `digest (daily … | off)`: a subcommand's own choices stay apart from the list's."""
    name, _, rest = usage.partition(" ")
    return f"{name} ({rest})" if " | " in rest else usage


def router_usages() -> list[str]:
    """Every subcommand's usage line, from the router the app registers (assembled here as the app is)."""
    from slack_bolt.async_app import AsyncApp

    import commands
    from bot.boundary import GuardedApp

    # Listeners are only registered, never run: no token is checked and nothing is sent anywhere.
    router = commands.register(GuardedApp(AsyncApp(token="xoxb-manifest", signing_secret="manifest")))
    return [sub.usage for sub in router.subcommands.values()]


def with_hint(manifest_text: str, hint: str) -> str:
    matches = list(_HINT_LINE.finditer(manifest_text))
    if len(matches) != 1:
        raise ValueError(f"manifest.yml should have one usage_hint line (for {COMMAND}); it has {len(matches)}")
    line = f"{matches[0].group('indent')}usage_hint: {json.dumps(hint, ensure_ascii=False)}"
    return manifest_text[:matches[0].start()] + line + manifest_text[matches[0].end():]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether manifest.yml is up to date")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)
    current = args.manifest.read_text()
    wanted = with_hint(current, usage_hint(router_usages()))
    if current == wanted:
        print(f"{args.manifest.name}: the {COMMAND} usage hint is up to date.")
        return 0
    if args.check:
        print(f"{args.manifest.name}: the {COMMAND} usage hint is stale; run `python -m bot.devtools.manifest`.")
        return 1
    args.manifest.write_text(wanted)
    print(f"{args.manifest.name}: updated the {COMMAND} usage hint.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
