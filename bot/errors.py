"""Domain exceptions. Their text is written for the Slack user who hit them.

The app's single error boundary (`bot.app`) turns any `MeetopsError` into an
ephemeral reply; anything else is logged with its traceback and answered with
a generic apology and a reference the admin can find in the log.
"""

from __future__ import annotations

from bot.text import mrkdwn_escape


class MeetopsError(Exception):
    """An error whose message can be shown to the person who acted."""

    def __init__(self, message: str):
        super().__init__(message)
        self.user_message = message


class BadInput(MeetopsError):
    """The command or form was not understood or not valid."""


class RoomNotFound(MeetopsError):
    def __init__(self, ref: str):
        super().__init__(
            f"I can't find a room called `{mrkdwn_escape(ref[:80])}`. Try `/meet rooms` to see the rooms I know, "
            "then use its name, link name or id."
        )
        self.ref = ref


class AmbiguousRoom(BadInput):
    """A room name that several rooms share, none of them in this channel."""


class RoomDeleted(RoomNotFound):
    """The room was deleted at the provider since its message was posted."""

    def __init__(self, name: str, where: str = "the meeting platform", *, by: str | None = None):
        how = f"was deleted by <@{by}>" if by else f"no longer exists in {where} (it was deleted there)"
        MeetopsError.__init__(self, f"*{mrkdwn_escape(name)}* {how}. Start a new room with `/meet new &lt;name&gt;`, "
                                    "or `/meet` for this channel's room.")
        self.ref = name


class Unavailable(MeetopsError):
    """Something meetops cannot do (yet) for this room."""


class NotAllowed(MeetopsError):
    """The person is not a moderator of the room."""


class ProviderError(MeetopsError):
    """The meeting provider refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None, errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or {}


class ProviderUnavailable(ProviderError):
    """Down, too slow, or answering 5xx even after retries."""


class ProviderAuthError(ProviderError):
    """401/403: the bot's credentials are wrong. The message never contains them."""


class ProviderNotFound(ProviderError):
    pass


class ProviderGone(ProviderError):
    """410: the meeting the request was about is over."""


class ProviderRejected(ProviderError):
    """422 and other 4xx: the provider understood and said no, with its reason."""


class ProviderRateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, status: int = 429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class NameTaken(ProviderRejected):
    """The provider already has a room with that link name (the caller tries the next suffix)."""

    def __init__(self, slug: str, message: str | None = None, **kwargs):
        super().__init__(message or f"The link name `{slug}` is taken.", **kwargs)
        self.slug = slug
