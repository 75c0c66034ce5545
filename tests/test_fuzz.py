"""Bounded, seeded fuzzing through the real app over HTTP (issue 7, "done means").

Thousands of generated `/meet` texts and malformed (but validly signed) interactivity payloads:
every answer is 2xx or 4xx, the log holds no traceback, nobody is told "Something went wrong",
and the bot is healthy at the end. Seeded, so a failure replays; bounded in count and time.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import time
from collections import Counter
from urllib.parse import urlencode

import httpx

from bot import ids
from tests.test_polls import new_room, open_form
from tests.test_rooms import room_messages

SEED = 20261201
COMMANDS = 1200
PAYLOADS = 800
CONCURRENCY = 16
# The work is about 14 ms of CPU per request (bot, Slack double and sandbox share the process), so about
# 30 s on an idle machine (printed with -s); the limit is a hang guard that a busy CI box still meets.
TIME_LIMIT = 240.0

SUBCOMMANDS = ["", "new", "join", "rooms", "live", "end", "poll", "polls", "restream", "summary", "digest",
               "help", "NEW", "Join", "nope", "delete", "--help"]
WORDS = ["standup", "Standup", "STANDUP", "Ünïcödé", "ünïcödé", "private", "stop", "now", "off", "daily", "weekly",
         "mon", "sunday", "09:00", "25:99", "9", "Europe/Madrid", "mars/olympus", "--multiple", "--anonymous",
         "--", '"', "\u201c", "\u201d", '"Lunch?"', '"Pizza"', "''", "Bob’s", "<!channel>", "<@U0002>", "&amp;",
         "&lt;", "<#C0001|general>", "\\", "../webhooks", "standup/sessions", "?live=true", "%00", "\x00", "\t",
         "\u202e", "👩‍💻", "٣", "null", "None", "[]", "{}", "0", "-1", "1e309", "NaN", "😀" * 50, "x" * 2000]


def random_text(rng: random.Random) -> str:
    words = [rng.choice(SUBCOMMANDS)]
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 5, 12])):
        word = rng.choice(WORDS)
        if rng.random() < 0.15:  # a random run of printable and odd characters
            word = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x2FFF)]))
                           for _ in range(rng.randrange(1, 30)))
        words.append(word)
    return " ".join(words)


JUNK = [None, True, 0, -1, 1.5, 10**30, "", "x", "U0002", " ", "💥" * 10, "a" * 3000, [], [1, "a"], {}, {"id": 5},
        {"id": "U0002"}, {"value": {"x": 1}}, [[[[[[]]]]]]]


def _paths(node, prefix=()):
    """Every path into a JSON document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def mutate(rng: random.Random, payload: dict) -> str:
    """One malformed variant of a valid payload, as the text of the `payload` form field."""
    doc = copy.deepcopy(payload)
    for _ in range(rng.choice([1, 1, 2, 3])):
        # What meetops and Bolt read, not the message's own blocks (most of a click's paths).
        paths = [p for p in _paths(doc) if p and len(p) <= 5 and p[0] not in ("message", "response_url")]
        if not paths:
            break
        path = rng.choice(paths)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        how = rng.random()
        if how < 0.35:
            parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
        elif how < 0.55:
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif how < 0.7 and isinstance(parent, dict):
            parent[rng.choice(["actions", "user", "team", "view", "type", "channel", "container", "value"])] = \
                copy.deepcopy(rng.choice(JUNK))
        else:
            parent[path[-1]] = {"nested": "[" * rng.randrange(1, 300)} if how < 0.8 else str(parent[path[-1]])
    text = json.dumps(doc)
    how = rng.random()
    if how < 0.1:
        text = text[: rng.randrange(0, len(text))]  # cut short
    elif how < 0.15:
        text = "[" * rng.randrange(100, 20_000) + text  # deeper still: tests/test_edge.py
    elif how < 0.2:
        at = rng.randrange(0, len(text))
        text = text[:at] + rng.choice(["{", "}", '"', ",", "\\", "\x00", "\ud800"]) + text[at:]
    return text


async def test_fuzzed_commands_and_payloads_never_break_the_bot(harness, ada, grace, caplog):
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    started, cpu = time.monotonic(), time.process_time()
    room, message = await new_room(harness, ada)
    form = await open_form(harness, ada, message, ids.POLL)
    samples = [ada.click_payload(message, action) for action in (ids.JOIN, ids.POLL, ids.END, ids.GO_LIVE)]
    samples.append(ada.submit_payload(form, {}))

    statuses: Counter[int] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(raw: bytes, client: httpx.AsyncClient) -> None:
        async with gate:
            response = await client.post(harness.events_url, content=raw, headers={
                "content-type": "application/x-www-form-urlencoded", **ada.sign(raw)})
            statuses[response.status_code] += 1

    texts = [random_text(rng) for _ in range(COMMANDS)]
    payloads = [mutate(rng, rng.choice(samples)) for _ in range(PAYLOADS)]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        people = [ada, grace]
        bodies = [urlencode(people[n % 2].command_form(text)).encode() for n, text in enumerate(texts)]
        bodies += [urlencode({"payload": text}, encoding="utf-8", errors="surrogatepass").encode()
                   for text in payloads]
        rng.shuffle(bodies)
        await asyncio.gather(*(send(body, client) for body in bodies))
        await harness.double.wait_idle(quiet=1.0, timeout=30)
        health = await client.get(f"{harness.url}/healthz")
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu

    print(f"\nfuzz: {COMMANDS} commands + {PAYLOADS} payloads in {elapsed:.1f}s ({cpu:.1f}s CPU); answers {dict(statuses)}; "
          f"{len(harness.double.calls)} Slack calls, {len(harness.sandbox_state.requests)} provider requests")
    assert sum(statuses.values()) == COMMANDS + PAYLOADS
    assert {s for s in statuses if not (200 <= s < 300 or 400 <= s < 500)} == set()
    assert statuses[400] > PAYLOADS * 0.3, "the edge refuses what does not fit (the rest reaches handlers)"
    broken = [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]
    assert broken == []
    assert not [e for e in harness.double.ephemerals() if "Something went wrong" in e.text]
    assert health.status_code == 200 and health.json()["ok"] is True
    assert elapsed < TIME_LIMIT
    # and it still works for a person
    await ada.acommand("new after-the-storm")
    await harness.double.wait_for(lambda: any(m.blocks[0]["text"]["text"] == "after-the-storm"
                                              for m in room_messages(harness)), timeout=10)
