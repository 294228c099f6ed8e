"""Logs are JSON, carry the correlation id, and never contain secrets or e-mail addresses."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from ticketbolt.bot.logs import bind_correlation_id, clear_correlation_id, configure_logging

TOKEN = "xoxb-1234567890-abcdefghijkl"


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_tokens_and_emails_never_reach_the_output(captured: io.StringIO) -> None:
    """A token in a message, a field, a nested dict or a library's log line is redacted."""
    log = structlog.get_logger("test")
    log.info(
        f"calling Slack with {TOKEN}",
        user_email="dana@shop.example",
        headers={"Authorization": f"Bearer {TOKEN}"},
        api_key="sk-live-secret-value-123",
    )
    logging.getLogger("slack_sdk.web").warning("request with token=%s failed", TOKEN)
    logging.getLogger("other").error("customer mail dana@shop.example bounced")
    output = captured.getvalue()
    assert TOKEN not in output
    assert "dana@shop.example" not in output
    assert "sk-live-secret-value-123" not in output
    mine = [
        line for line in lines(captured) if line.get("logger") in ("test", "slack_sdk.web", "other")
    ]
    assert 3 == len(mine)


def test_correlation_id_is_bound_to_every_line(captured: io.StringIO) -> None:
    """Lines logged while a request is handled carry its correlation id, and only then."""
    log = structlog.get_logger("test")
    bind_correlation_id("Ev123")
    log.info("inside")
    logging.getLogger("stdlib").warning("inside too")
    clear_correlation_id()
    log.info("outside")
    # Only this test's loggers: the process may log meanwhile from elsewhere (a connection or
    # a task of an earlier test collected by the garbage collector), without a request's id.
    mine = [line for line in lines(captured) if line.get("logger") in ("test", "stdlib")]
    assert ["Ev123", "Ev123", None] == [line.get("correlation_id") for line in mine]
