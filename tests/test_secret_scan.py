"""Secret scan (issue 7, "done means"): a busy session, then every trace it left is searched.

The log (captured at DEBUG, as it comes, with no masking filter), every Web API call and
response_url post the Slack double received, every HTTP answer the bot gave, and the SQLite
file with its WAL hold none of the configured secrets (bot token, signing secret, Digital
Samba developer key, webhook token) nor a stream key typed into the Go live form: also when
that form arrives late, forged, oversized, replayed or malformed.
"""

from __future__ import annotations

import io
import json
import logging
import pathlib
import secrets
import time
from urllib.parse import urlencode

import httpx

from bot import ids
from bot.devtools.harness import SIGNING_SECRET, WEBHOOK_TOKEN, Harness
from bot.devtools.slack_user import sign
from tests.test_polls import new_room, open_form, poll_form, reply_to
from tests.test_restream import current, stream_form
from tests.test_rooms import buttons

FORM = "application/x-www-form-urlencoded"


def database_bytes(path: str) -> bytes:
    db = pathlib.Path(path)
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


async def test_no_secret_reaches_a_log_line_slack_an_answer_or_the_database(tmp_path):
    stream_key = "sk-live-" + secrets.token_hex(16)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    answers: list[httpx.Response] = []
    db_path = str(tmp_path / "meetops.db")
    try:
        async with Harness(db_path=db_path, register_webhooks=True) as harness, \
                httpx.AsyncClient(base_url=harness.url, timeout=10) as web:
            configured = {
                "bot token": harness.double.bot_token,
                "signing secret": SIGNING_SECRET,
                "developer key": harness.sandbox_state.developer_key,
                "webhook token": WEBHOOK_TOKEN,
                "stream key": stream_key,
            }
            ada = harness.user("U0001")
            grace = ada.as_user("U0002")
            room, message = await new_room(harness, ada)
            answers.append(await grace.aclick(message, ids.JOIN))
            answers.append(await web.post("/_unused", content=b""))  # 404, also an answer
            sandbox = httpx.AsyncClient(base_url=harness.sandbox_url, timeout=10)
            await sandbox.post("/_sandbox/rooms/standup/join", json={"name": "Grace"})
            for text in ("live", "rooms", "polls standup", "join standup", "restream standup x y"):
                answers.append(await ada.acommand(text))
            form = await open_form(harness, ada, message, ids.POLL)
            answers.append(await ada.asubmit(form, poll_form("Lunch?", "Pizza", "Sushi")))

            # The Go live form, as Slack sends it: once properly, then late, forged, replayed, oversized, malformed.
            form = await open_form(harness, ada, message, ids.GO_LIVE)
            payload = ada.submit_payload(form, stream_form(key=stream_key))
            body = urlencode({"payload": json.dumps(payload)}).encode()
            headers = {"content-type": FORM, **ada.sign(body)}
            answers.append(await web.post("/slack/events", content=body, headers=headers))
            streaming = await harness.double.wait_for(
                lambda: ids.STOP_STREAM in buttons(current(harness, message)) and current(harness, message))
            answers.append(await web.post("/slack/events", content=body, headers=headers))  # replayed
            late = {"content-type": FORM, **sign(SIGNING_SECRET, body, int(time.time()) - 400)}
            answers.append(await web.post("/slack/events", content=body, headers=late))
            forged = {"content-type": FORM, **sign("rotated-secret", body)}
            answers.append(await web.post("/slack/events", content=body, headers=forged))
            big = body + b"&pad=" + b"x" * (2 * 1024 * 1024)
            answers.append(await web.post("/slack/events", content=big, headers={"content-type": FORM,
                                                                                 **ada.sign(big)}))
            broken = dict(payload, user=stream_key)  # signed, but not a shape Slack sends
            raw = urlencode({"payload": json.dumps(broken)}).encode()
            answers.append(await web.post("/slack/events", content=raw, headers={"content-type": FORM,
                                                                                 **ada.sign(raw)}))
            raw = urlencode({"payload": "{" + json.dumps(payload)}).encode()  # not JSON
            answers.append(await web.post("/slack/events", content=raw, headers={"content-type": FORM,
                                                                                 **ada.sign(raw)}))

            answers.append(await ada.aclick(streaming, ids.STOP_STREAM))
            await harness.double.wait_for(lambda: ids.GO_LIVE in buttons(current(harness, message)))
            answers.append(await ada.acommand("end standup"))
            await harness.double.wait_for(lambda: len(harness.double.ephemerals("U0001")) >= 8, timeout=10)
            answers.append(await ada.acommand("digest now"))
            answers.append(await web.post("/webhooks/digitalsamba", json={"event": "session_ended"},
                                          headers={"Authorization": "wrong-" + WEBHOOK_TOKEN}))
            answers.append(await web.get("/healthz"))
            await harness.double.wait_idle(quiet=0.5)
            while_running = database_bytes(db_path)
            await sandbox.aclose()
            await ada.aclose()
            slack = json.dumps([[c.method, c.args] for c in harness.double.calls]
                               + [[r.url, r.body] for r in harness.double.responses], default=str)
            assert len(harness.sandbox_state.requests_matching("POST", "/restreamers/start")) == 1
            assert harness.sandbox_state.deliveries, "webhooks were delivered with the token"
            await harness.stop_bot()  # the database is flushed and closed
            after_stop = database_bytes(db_path)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    logged = log.getvalue()
    assert "restreamers/start" in logged and "refused a request to /slack/events" in logged, "the log was captured"
    assert len(answers) >= 18 and {a.status_code for a in answers} >= {200, 400, 401, 404, 413}
    said = "".join(f"{a.status_code} {a.headers} {a.text}" for a in answers)
    assert "Streaming live to YouTube" in slack and while_running and after_stop
    found = {(name, where)
             for name, secret in configured.items()
             for where, text in (("log", logged), ("Slack", slack), ("HTTP answers", said))
             if secret in text}
    found |= {(name, "database") for name, secret in configured.items()
              if secret.encode() in while_running or secret.encode() in after_stop}
    assert found == set()
