"""The sandbox's refusals, raised by the state and by validation, answered by the HTTP layer.

Bodies follow Digital Samba (a Laravel app): `{"message": ...}`, plus `errors` keyed by
field for validation failures.
"""

from __future__ import annotations

Errors = dict[str, list[str]]


def check(errors: Errors) -> None:
    """Raise the 422 for `errors`, if there are any."""
    if errors:
        raise Invalid(errors)


class SandboxError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"message": self.message}


class NotFound(SandboxError):
    status = 404


class Rejected(SandboxError):
    """The request was understood but the platform says no (422 without field errors)."""

    status = 422


class Invalid(SandboxError):
    """Field validation failed: 422 with Laravel's `errors` map and summary message."""

    status = 422

    def __init__(self, errors: Errors):
        messages = [m for field_messages in errors.values() for m in field_messages]
        message = messages[0]
        if len(messages) > 1:
            more = len(messages) - 1
            message += f" (and {more} more error{'s' if more > 1 else ''})"
        super().__init__(message)
        self.errors = errors

    def body(self) -> dict:
        return {"message": self.message, "errors": self.errors}
