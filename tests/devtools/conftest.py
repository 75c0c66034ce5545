from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_double import SlackDouble


@pytest.fixture
def double() -> Iterator[SlackDouble]:
    with SlackDouble() as slack:
        yield slack


@pytest.fixture
def client(double: SlackDouble) -> AsyncWebClient:
    return AsyncWebClient(token=double.bot_token, base_url=double.api_url)
