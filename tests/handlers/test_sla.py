"""The SLA watchdog over real HTTP: signed Slack events in, the emulators recording the notices.

The watchdog's runs are triggered directly with the instant they should decide at (never real
waiting); everything else — ticket creation, agent replies, the notice jobs — goes through the
running service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.handlers.sla_scene import Scene, replies, sla_scene, tags, top_level
from tests.support.db import Database
from tests.support.stack import eventually

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def scene(database: Database, tmp_path: Path) -> AsyncIterator[Scene]:
    async with sla_scene(database, tmp_path) as scene:
        yield scene


async def test_unanswered_ticket_is_warned_at_75_percent_and_breached_at_100_once_each(
    scene: Scene,
) -> None:
    """15m first response: ⏳ at 11m15s and 🔴 breached at 15m, in the thread and the alert
    channel, exactly once each although two replicas run the watchdog at every instant; the
    ticket gets the `sla:breached` tag."""
    ts, clock = await scene.ticket(scene.vip, "My order never arrived")
    start = clock.created_at
    assert start + timedelta(minutes=15) == clock.first_response_due_at
    runs = [start + timedelta(minutes=m) for m in (5, 11.5, 12, 15, 16)]
    for at in runs:
        await asyncio.gather(scene.watchdog.run_once(at), scene.watchdog.run_once(at))

    def all_posted() -> bool:
        return bool(
            replies(scene.vip, ts, "breached")
            and top_level(scene.leads, "breached")
            and "sla:breached" in tags(scene, clock.ticket_id)
        )

    await eventually(all_posted, what="the breach notices and the tag")
    await eventually(lambda: bool(top_level(scene.leads, "⏳")), what="the warning alert")
    assert 1 == len(replies(scene.vip, ts, "⏳ First response due in"))
    assert 1 == len(top_level(scene.leads, "⏳ First response due in"))
    [breach] = replies(scene.vip, ts, "breached")
    assert "🔴" in breach.text
    [alert] = top_level(scene.leads, "🔴")
    assert alert.text.endswith("<!subteam^S0ONCALL>")  # the on-call group, on the breach only
    assert "subteam" not in top_level(scene.leads, "⏳")[0].text
    after = await scene.sla.store.get(clock.ticket_id)
    assert after is not None
    assert (True, True) == (after.first_response_warned, after.first_response_breached)


async def test_an_agent_reply_before_the_deadline_prevents_warning_and_breach(
    scene: Scene,
) -> None:
    """The agent answers in the thread: the first-response clock stops and nothing is posted."""
    slack = scene.stack.slack
    ts, clock = await scene.ticket(scene.vip, "Where is my refund?")
    await slack.user_posts(scene.customer, scene.vip, "Hello?", thread_ts=ts)
    await slack.user_posts(scene.agent, scene.vip, "Looking into it now", thread_ts=ts)

    async def answered() -> bool:
        current = await scene.sla.store.get(clock.ticket_id)
        return current is not None and current.first_response_at is not None

    await eventually(answered, what="the first response recorded")
    counts = [
        await scene.watchdog.run_once(clock.created_at + timedelta(minutes=m)) for m in (12, 20)
    ]
    assert [0, 0] == [c["warned"] + c["breached"] for c in counts]
    assert [] == replies(scene.vip, ts, "⏳") + replies(scene.vip, ts, "breached")
    assert [] == top_level(scene.leads, "breached")
    assert "sla:breached" not in tags(scene, clock.ticket_id)


async def test_business_hours_pause_the_clock_overnight_and_over_the_weekend(
    scene: Scene,
) -> None:
    """Friday 17:55 in Paris + 15 business minutes is due Monday 09:10: nothing is posted on the
    evening or the weekend, the warning comes Monday 09:06:15, the breach at 09:10."""
    friday = datetime(2026, 11, 27, 17, 55, tzinfo=PARIS)
    scene.sla.clock = lambda: friday
    ts, clock = await scene.ticket(scene.office, "The invoice is wrong")
    monday = datetime(2026, 11, 30, 9, 10, tzinfo=PARIS)
    assert monday == clock.first_response_due_at
    evening, saturday = friday + timedelta(minutes=30), friday + timedelta(days=1)
    for at in (evening, saturday, monday - timedelta(hours=1)):
        assert 0 == (await scene.watchdog.run_once(at))["warned"]
    assert 1 == (await scene.watchdog.run_once(monday - timedelta(minutes=3)))["warned"]
    assert 1 == (await scene.watchdog.run_once(monday))["breached"]
    await eventually(lambda: bool(replies(scene.office, ts, "breached")), what="the breach")
    [warning] = replies(scene.office, ts, "⏳")
    assert "due in 3 min" in warning.text
