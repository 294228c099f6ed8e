"""Satisfaction scores back in the Slack thread, from Gorgias' webhook or the watchdog's poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.handlers.sla_scene import WEBHOOK_TOKEN, Scene, replies, sla_scene, top_level
from tests.support.db import Database
from ticketbolt.integrations.slack.emulator.state import Channel

TICKET = {
    "customer": {"email": "ann@example.com"},
    "messages": [{"channel": "email", "from_agent": False, "body_text": "hello"}],
}


@pytest.fixture
async def scene(database: Database, tmp_path: Path) -> AsyncIterator[Scene]:
    async with sla_scene(database, tmp_path) as scene:
        yield scene


async def closed_ticket(scene: Scene, channel: Channel, text: str) -> tuple[str, int]:
    """A ticket made in `channel` and closed in Gorgias: its message ts and ticket id."""
    ts, clock = await scene.ticket(channel, text)
    await scene.stack.gorgias.agent_set_status(clock.ticket_id, "closed")
    await scene.settle()
    return ts, clock.ticket_id


async def test_a_low_score_goes_to_the_thread_and_the_alert_channel(scene: Scene) -> None:
    """Score 2 (at TICKETBOLT_CSAT_ALERT_BELOW): "⭐ 2/5 — comment" in the thread, and one line
    in the channel's alert channel."""
    ts, ticket_id = await closed_ticket(scene, scene.vip, "Late again")
    await scene.stack.gorgias.customer_rates(ticket_id, 2, "Took a week")
    await scene.settle()

    [thread] = replies(scene.vip, ts, "⭐")
    assert thread.text.startswith("⭐ 2/5 — Took a week")
    [alert] = top_level(scene.leads, "⭐ 2/5")
    assert f"ticket #{ticket_id}" in alert.text
    assert 2 == (await scene.clock(ticket_id)).csat_score


async def test_a_good_score_goes_to_the_thread_only(scene: Scene) -> None:
    """Score 5: the thread hears it; the leads are not alerted."""
    ts, ticket_id = await closed_ticket(scene, scene.vip, "Can I change my address?")
    await scene.stack.gorgias.customer_rates(ticket_id, 5, "Perfect, thanks")
    await scene.settle()

    [thread] = replies(scene.vip, ts, "⭐")
    assert thread.text.startswith("⭐ 5/5 — Perfect, thanks")
    assert [] == top_level(scene.leads, "⭐")


async def test_duplicate_deliveries_post_the_score_once(scene: Scene) -> None:
    """Gorgias retries the delivery twice and sends another update for the same survey: still
    one message in the thread and one alert."""
    gorgias = scene.stack.gorgias
    ts, ticket_id = await closed_ticket(scene, scene.vip, "Missing item")
    await gorgias.customer_rates(ticket_id, 1, "Nobody answered")
    await scene.settle()
    [delivery] = [d for d in gorgias.deliveries if d.trigger == "ticket-updated"][-1:]
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.post(
                f"{scene.stack.url}/gorgias/webhook",
                json=delivery.body,
                headers={"X-Ticketbolt-Token": WEBHOOK_TOKEN},
            ) as answer:
                assert 200 == answer.status
    await gorgias.customer_rates(ticket_id, 1, "Nobody answered")
    await scene.settle()

    assert 1 == len(replies(scene.vip, ts, "⭐"))
    assert 1 == len(top_level(scene.leads, "⭐"))


async def test_the_watchdog_polls_for_a_score_no_webhook_reported(scene: Scene) -> None:
    """A score Gorgias never delivered: the watchdog's poll finds it (one call), posts it, and
    asks no more about that ticket."""
    gorgias = scene.stack.gorgias
    ts, ticket_id = await closed_ticket(scene, scene.office, "Invoice please")
    gorgias.state.rate(ticket_id, 4, "Fine")  # recorded, never delivered
    closed = await scene.clock(ticket_id)
    assert closed.resolved_at is not None
    later = closed.resolved_at + timedelta(hours=3)

    first = await scene.watchdog.run_once(later)
    await scene.settle()
    second = await scene.watchdog.run_once(later + timedelta(hours=2))

    assert (1, 1) == (first["csat_polled"], first["api_calls"])
    assert (0, 0) == (second["csat_polled"], second["api_calls"])
    [thread] = replies(scene.office, ts, "⭐")
    assert thread.text.startswith("⭐ 4/5 — Fine")


async def test_a_score_for_a_ticket_not_from_slack_posts_nothing(scene: Scene) -> None:
    """Tickets made in Gorgias itself have no thread: their scores stay there."""
    gorgias = scene.stack.gorgias
    ticket_id = gorgias.state.create_ticket(TICKET)["id"]
    await gorgias.customer_rates(ticket_id, 1, "Bad")
    await scene.settle()

    everywhere = [scene.vip, scene.office, scene.leads]
    assert [] == [m for c in everywhere for m in c.messages.values() if "⭐" in (m.text or "")]
