"""What the service logs while it starts: nothing from Bolt that would alarm an operator."""

from __future__ import annotations

import logging

import pytest

from tests.support.db import Database
from tests.support.stack import emulated_app


async def test_bolt_says_nothing_about_the_token_it_does_not_use(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """We hand Bolt a client and an `authorize` that both hold SLACK_BOT_TOKEN; Bolt's warnings
    that it will not read the token itself are filtered, and no other Bolt warning is."""
    with caplog.at_level(logging.WARNING, logger="slack_bolt"):
        async with emulated_app(database, worker=False) as stack:
            assert stack.runtime.bolt is not None
    bolt = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert [] == bolt
