"""A scope missing from the installed app is named by the Slack check, and logged when hit."""

from __future__ import annotations

import logging

import pytest

from tests.support.db import Database
from tests.support.stack import emulators, running_app


async def test_the_slack_check_names_scopes_the_app_lacks(database: Database) -> None:
    """Installed without `usergroups:read`: the Slack row is degraded and names the scope and
    the fix; with every scope it is ok."""
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as stack:
        [ok] = [r for r in await stack.runtime.health.run(fresh=True) if r.name == "slack"]
        slack.scopes.discard("usergroups:read")
        [row] = [r for r in await stack.runtime.health.run(fresh=True) if r.name == "slack"]
    assert "ok" == ok.state
    assert "degraded" == row.state
    assert "usergroups:read" in row.detail
    assert "manifest.yml" in row.detail


async def test_a_missing_scope_is_logged_with_its_name(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading a channel's name without `channels:read`: the ticket is still made, and a warning
    names the scope instead of the error vanishing."""
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias):
        slack.scopes.discard("channels:read")
        customer = slack.state.add_user("dana", email="dana@shop.example")
        agent = slack.state.add_user("alex")
        channel = slack.state.add_channel(
            "support", members=[customer.id, agent.id, slack.bot_user.id]
        )
        ts = slack.state.post(channel, customer, "Where is my parcel?").ts
        caplog.set_level(logging.WARNING)
        await slack.user_reacts(agent, channel, ts, "ticket")
        await slack.wait_until(lambda: len(gorgias.tickets) == 1, timeout=15)
    warnings = [r.getMessage() for r in caplog.records if "lacks the scope" in r.getMessage()]
    assert any("channels:read" in w for w in warnings), warnings
