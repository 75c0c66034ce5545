"""Request validation with Laravel's rules and messages, as Digital Samba answers them.

Each `*_errors` function returns the `errors` map of a 422 (empty when the body is valid);
the routes raise `Invalid(errors)` when it is not empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import Errors
from .models import EVENT_NAMES, POLL_TYPES, RESTREAM_TYPES, ROOM_FLAG_DEFAULTS

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
EXPIRES_AT_FORMAT = "%Y-%m-%d %H:%M:%S"


def is_bool(value: Any) -> bool:
    # Laravel's `boolean` accepts 0/1 and their strings; query strings also say true/false.
    return value in (True, False, 0, 1, "0", "1", "true", "false")


def as_bool(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None)


class Rules:
    """Checks the fields of one body (or query) and collects Laravel's messages by field.

    Each check returns whether the field is present and passed, so dependent checks can
    follow. `prefix` names nested items the Laravel way: `options.0.text`.
    """

    def __init__(self, data: Mapping[str, Any], prefix: str = ""):
        self.data = data
        self.prefix = prefix
        self.errors: Errors = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(self.prefix + field, []).append(message)

    def label(self, field: str) -> str:
        return (self.prefix + field).replace("_", " ")

    def given(self, field: str, *, required: bool = False) -> bool:
        value = self.data.get(field)
        if value is None or value == "" or value == []:
            if required:
                self.fail(field, f"The {self.label(field)} field is required.")
            return False
        return True

    def string(
        self,
        field: str,
        *,
        required: bool = False,
        min: int | None = None,
        max: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> bool:
        if not self.given(field, required=required):
            return False
        value = self.data[field]
        name = self.label(field)
        if not isinstance(value, str):
            self.fail(field, f"The {name} field must be a string.")
            return False
        ok = True
        if min is not None and len(value) < min:
            self.fail(field, f"The {name} field must be at least {min} characters.")
            ok = False
        if max is not None and len(value) > max:
            self.fail(field, f"The {name} field must not be greater than {max} characters.")
            ok = False
        if pattern is not None and not pattern.match(value):
            self.fail(field, f"The {name} field format is invalid.")
            ok = False
        return ok

    def integer(self, field: str, *, required: bool = False, min: int | None = None, max: int | None = None) -> bool:
        if not self.given(field, required=required):
            return False
        value = self.data[field]
        name = self.label(field)
        if not is_int(value):
            self.fail(field, f"The {name} field must be an integer.")
            return False
        if min is not None and int(value) < min:
            self.fail(field, f"The {name} field must be at least {min}.")
            return False
        if max is not None and int(value) > max:
            self.fail(field, f"The {name} field must not be greater than {max}.")
            return False
        return True

    def number(self, field: str, *, min: float, max: float, required: bool = False) -> bool:
        if not self.given(field, required=required):
            return False
        value = self.data[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not min <= value <= max:
            self.fail(field, f"The {self.label(field)} field must be a number between {min} and {max}.")
            return False
        return True

    def boolean(self, field: str) -> bool:
        if not self.given(field):
            return False
        if not is_bool(self.data[field]):
            self.fail(field, f"The {self.label(field)} field must be true or false.")
            return False
        return True

    def choice(self, field: str, choices: Collection[str], *, required: bool = False) -> bool:
        if not self.given(field, required=required):
            return False
        if self.data[field] not in choices:
            self.fail(field, f"The selected {self.label(field)} is invalid.")
            return False
        return True

    def array(self, field: str, *, required: bool = False) -> bool:
        if not self.given(field, required=required):
            return False
        if not isinstance(self.data[field], list):
            self.fail(field, f"The {self.label(field)} field must be an array.")
            return False
        return True

    def strings(self, field: str, *, required: bool = False, choices: Collection[str] | None = None) -> bool:
        """An array whose items are strings (from `choices` when given)."""
        if not self.array(field, required=required):
            return False
        ok = True
        for index, item in enumerate(self.data[field]):
            key = f"{field}.{index}"
            if not isinstance(item, str) or not item:
                self.fail(key, f"The {self.label(key)} field must be a string.")
                ok = False
            elif choices is not None and item not in choices:
                self.fail(key, f"The selected {self.label(key)} is invalid.")
                ok = False
        return ok

    def url(self, field: str, *, required: bool = False, max: int | None = None) -> bool:
        if not self.string(field, required=required, min=3, max=max):
            return False
        parts = urlsplit(self.data[field])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(field, f"The {self.label(field)} field must be a valid URL.")
            return False
        return True

    def date(self, field: str, fmt: str, laravel_fmt: str) -> datetime | None:
        if not self.given(field):
            return None
        try:
            return datetime.strptime(str(self.data[field]), fmt)
        except ValueError:
            self.fail(field, f"The {self.label(field)} field must match the format {laravel_fmt}.")
            return None


def room_errors(
    body: Mapping[str, Any],
    *,
    url_taken: Callable[[str], bool],
    now: datetime,
    current_roles: list[str],
    current_default_role: str,
) -> Errors:
    """POST /rooms and PATCH /rooms/{room}: every field optional (the reference wins over
    the spec's `required`); `current_*` are the room's values, or the defaults on create."""
    rules = Rules(body)
    if rules.string("friendly_url", min=3, max=32, pattern=URL_SAFE) and url_taken(body["friendly_url"]):
        rules.fail("friendly_url", "The friendly url has already been taken.")
    rules.string("description", min=3, max=500)
    rules.choice("privacy", ("public", "private"))
    rules.string("external_id", max=255)
    rules.strings("tags")
    rules.integer("max_participants", min=2, max=2000)
    rules.integer("session_length", min=1, max=1440)
    for flag in ROOM_FLAG_DEFAULTS:
        rules.boolean(flag)
    expires_at = rules.date("expires_at", EXPIRES_AT_FORMAT, "Y-m-d H:i:s")
    if expires_at is not None and expires_at <= now.replace(tzinfo=None):
        rules.fail("expires_at", "The expires at field must be a date after now.")

    roles_ok, default_ok = rules.strings("roles"), rules.string("default_role")
    if default_ok and not rules.given("roles"):
        rules.fail("roles", "The roles field is required when default role is present.")
    elif default_ok or roles_ok:
        # Whichever of the two changes, the default role must stay one of the room's roles.
        default_role = body.get("default_role") or current_default_role
        if default_role not in (body.get("roles") or current_roles):
            rules.fail("default_role", "The selected default role is invalid.")
    return rules.errors


def poll_errors(body: Mapping[str, Any]) -> Errors:
    rules = Rules(body)
    rules.string("question", min=5)
    rules.choice("type", POLL_TYPES)
    rules.boolean("anonymous")
    rules.boolean("multiple")  # deprecated in favour of type=multiple, still honoured
    # Free-text polls collect answers, so they are the one type that needs no options.
    if rules.array("options", required=body.get("type") != "free"):
        for index, option in enumerate(body["options"]):
            if not isinstance(option, dict):
                rules.fail(f"options.{index}", f"The options.{index} field must be an array.")
                continue
            item = Rules(option, prefix=f"options.{index}.")
            item.string("text", required=True, min=1, max=255)
            rules.errors.update(item.errors)
    return rules.errors


def webhook_errors(body: Mapping[str, Any]) -> Errors:
    rules = Rules(body)
    rules.url("endpoint", required=True, max=100)
    rules.strings("events", required=True, choices=EVENT_NAMES)
    rules.string("name", min=3, max=100)
    rules.string("authorization_header")
    return rules.errors


def restream_errors(body: Mapping[str, Any]) -> Errors:
    rules = Rules(body)
    rules.string("stream_key", required=True)
    has_type, has_url = rules.given("type"), rules.given("server_url")
    if has_type and has_url:
        rules.fail("type", "The type field is prohibited when server url is present.")
    elif not has_type and not has_url:
        rules.fail("type", "The type field is required when server url is not present.")
    rules.choice("type", RESTREAM_TYPES)
    if rules.string("server_url") and not body["server_url"].startswith(("rtmp://", "rtmps://")):
        rules.fail("server_url", "The server url field must start with one of the following: rtmp://, rtmps://.")
    return rules.errors
