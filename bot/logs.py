"""Logging set-up with a last line of defence: known secrets and join tokens are masked in every record.

Code must not log secrets in the first place; this filter catches what slips
through (a library's debug line, an exception text quoting a request).
"""

from __future__ import annotations

import logging
import re
import threading

# Slack tokens, and the `token=` query of a join link (a JWT).
_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?<=token=)[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
]
MASK = "***"


class SecretFilter(logging.Filter):
    MAX_SECRETS = 1000  # stream keys arrive for the life of the process; keep the newest

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, None] = {}  # an ordered set
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        # Short strings would mask ordinary words; real tokens and keys are long.
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= 8:
                    self._secrets.pop(secret, None)
                    self._secrets[secret] = None
            while len(self._secrets) > self.MAX_SECRETS:
                del self._secrets[next(iter(self._secrets))]

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter prints our copy.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


secret_filter = SecretFilter()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These log whole request bodies at DEBUG, join links included; they never need to.
    for noisy in ("slack_sdk", "slack_bolt", "meetops.bolt", "apscheduler.executors", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger(noisy).getEffectiveLevel()))
    # APScheduler logs every run of every job at INFO: the checkpoint every 10 s alone was most of an idle
    # day's log. Jobs that fail are still logged (ERROR), and meetops logs what its own jobs do.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, logging.getLogger(
        "apscheduler.executors").getEffectiveLevel()))
    # slack-sdk announces every retry at INFO; an outage is logged once by bot.slack_auth instead.
    logging.getLogger("slack_sdk.web.async_base_client").setLevel(logging.WARNING)
    # One INFO line per HTTP request is noise; their failures still surface as WARNING.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Bolt warns that SLACK_BOT_TOKEN in the environment is unused because meetops hands it a
    # client built from that very token (and an `authorize` hook that answers with it, bot.slack_auth);
    # the warnings would only alarm whoever reads the log.
    logging.getLogger("meetops.bolt").addFilter(
        lambda r: "`token` will be unused" not in r.getMessage() and "will be ignored" not in r.getMessage())
