"""SLA clocks fed from Gorgias: reopens resume them, agents' replies there stop them; and what
people see of the watchdog: `/ticketbolt sla`, `/ticketbolt status`, the metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.handlers.sla_scene import Scene, replies, sla_scene
from tests.support.db import Database
from ticketbolt.integrations.slack.emulator.state import Channel


@pytest.fixture
async def scene(database: Database, tmp_path: Path) -> AsyncIterator[Scene]:
    async with sla_scene(database, tmp_path, TICKETBOLT_SLA_INTERVAL_SECONDS=10) as scene:
        yield scene


async def command(scene: Scene, channel: Channel, text: str) -> str:
    """Run `/ticketbolt text` as the agent; everything the answer shows, ack included."""
    slack = scene.stack.slack
    before = len(slack.hook_posts)
    ack = await slack.slash_command(scene.agent, channel, text=text)
    assert 200 == ack.status
    if ack.json().get("text", "").startswith("Usage"):
        return json.dumps(ack.json(), ensure_ascii=False)
    await slack.wait_until(lambda: len(slack.hook_posts) > before, timeout=15)
    [post] = slack.hook_posts[before:]
    assert isinstance(post.body, dict)
    assert "ephemeral" == post.body["response_type"]
    return f"{post.body.get('text', '')}\n{json.dumps(post.body.get('blocks'), ensure_ascii=False)}"


async def test_a_reopened_ticket_resumes_its_resolution_clock(scene: Scene) -> None:
    """Closed in Gorgias, the clocks stop; reopened two hours later, the resolution clock goes on
    with the time it had left: its breach comes two hours later than first planned, once."""
    gorgias, slack = scene.stack.gorgias, scene.stack.slack
    ts, clock = await scene.ticket(scene.vip, "My order never arrived")
    await slack.user_posts(scene.agent, scene.vip, "Looking into it", thread_ts=ts)
    await gorgias.agent_set_status(clock.ticket_id, "closed")
    await scene.settle()
    closed = await scene.clock(clock.ticket_id)
    assert closed.resolved_at is not None
    assert closed.first_response_at is not None
    assert [] == closed.pending(clock.resolution_due_at or closed.resolved_at)

    reopened_at = closed.resolved_at + timedelta(hours=2)
    scene.sla.clock = lambda: reopened_at
    await gorgias.agent_set_status(clock.ticket_id, "open")
    await scene.settle()

    resumed = await scene.clock(clock.ticket_id)
    assert resumed.resolved_at is None
    assert clock.resolution_due_at is not None
    assert clock.resolution_due_at + timedelta(hours=2) == resumed.resolution_due_at
    first_due = clock.resolution_due_at + timedelta(minutes=1)
    assert 0 == (await scene.watchdog.run_once(first_due))["breached"]
    assert resumed.resolution_due_at is not None
    assert 1 == (await scene.watchdog.run_once(resumed.resolution_due_at))["breached"]
    await scene.settle()
    assert 1 == len(replies(scene.vip, ts, "Resolution SLA breached"))


async def test_removing_the_resolve_reaction_resumes_the_clocks(scene: Scene) -> None:
    """✅ closes the ticket and stops its clocks; removing ✅ reopens it and they run again,
    still warning at their shifted times."""
    slack = scene.stack.slack
    ts, clock = await scene.ticket(scene.vip, "Damaged box")
    await slack.user_reacts(scene.agent, scene.vip, ts, "white_check_mark")
    await scene.settle()
    assert (await scene.clock(clock.ticket_id)).resolved_at is not None

    await slack.user_unreacts(scene.agent, scene.vip, ts, "white_check_mark")
    await scene.settle()

    resumed = await scene.clock(clock.ticket_id)
    assert resumed.resolved_at is None
    assert resumed.first_response_warn_at is not None
    assert 1 == (await scene.watchdog.run_once(resumed.first_response_warn_at))["warned"]


async def test_an_agents_public_reply_in_gorgias_is_the_first_response(scene: Scene) -> None:
    """The agent answers in Gorgias, not in Slack: the webhook stops the first-response clock
    at the reply's time, and nothing is posted when the deadline passes."""
    ts, clock = await scene.ticket(scene.vip, "Where is my refund?")
    reply = await scene.stack.gorgias.agent_reply(clock.ticket_id, "Refunded today")
    await scene.settle()

    answered = await scene.clock(clock.ticket_id)
    assert datetime.fromisoformat(reply["sent_datetime"]) == answered.first_response_at
    for minutes in (12, 20):
        counts = await scene.watchdog.run_once(clock.created_at + timedelta(minutes=minutes))
        assert 0 == counts["warned"] + counts["breached"]
    assert [] == replies(scene.vip, ts, "⏳")


async def test_an_internal_note_is_no_first_response_by_default(scene: Scene) -> None:
    """An internal note is between agents: the customer still waits, the warning comes."""
    ts, clock = await scene.ticket(scene.vip, "Wrong size delivered")
    await scene.stack.gorgias.agent_reply(clock.ticket_id, "Ask the warehouse", public=False)
    await scene.settle()

    assert (await scene.clock(clock.ticket_id)).first_response_at is None
    assert 1 == (await scene.watchdog.run_once(clock.created_at + timedelta(minutes=12)))["warned"]
    await scene.settle()
    assert 1 == len(replies(scene.vip, ts, "⏳ First response due in"))


async def test_an_internal_note_counts_when_configured(database: Database, tmp_path: Path) -> None:
    """TICKETBOLT_SLA_NOTE_COUNTS_AS_RESPONSE=true: the note stops the first-response clock."""
    async with sla_scene(
        database, tmp_path, TICKETBOLT_SLA_NOTE_COUNTS_AS_RESPONSE="true"
    ) as scene:
        _, clock = await scene.ticket(scene.vip, "Wrong size delivered")
        await scene.stack.gorgias.agent_reply(clock.ticket_id, "Checking stock", public=False)
        await scene.settle()
        assert (await scene.clock(clock.ticket_id)).first_response_at is not None
        later = clock.created_at + timedelta(minutes=12)
        assert 0 == (await scene.watchdog.run_once(later))["warned"]


async def test_the_watchdogs_read_finds_a_reply_no_webhook_reported(scene: Scene) -> None:
    """A reply Gorgias never delivered (webhook lost): the watchdog's one confirming read sees it
    in the ticket's messages, stops the clock, and warns nobody."""
    gorgias = scene.stack.gorgias
    ts, clock = await scene.ticket(scene.vip, "Parcel damaged")
    await scene.settle()  # the ticket-created delivery's own read done
    agent = gorgias.state.agent("Sam Agent")
    body = {"channel": "api", "via": "helpdesk", "from_agent": True, "public": True,
            "sender": {"id": agent["id"]}, "body_text": "Sending a new one"}  # fmt: skip
    gorgias.state.add_message(clock.ticket_id, body)
    reads = gorgias.count("GET", f"/api/tickets/{clock.ticket_id}")

    counts = await scene.watchdog.run_once(clock.created_at + timedelta(minutes=12))

    assert (0, 1) == (counts["warned"], counts["api_calls"])
    assert reads + 1 == gorgias.count("GET", f"/api/tickets/{clock.ticket_id}")
    assert (await scene.clock(clock.ticket_id)).first_response_at is not None
    assert [] == replies(scene.vip, ts, "⏳")


async def test_sla_command_lists_the_channels_tickets_breached_first(scene: Scene) -> None:
    """`/ticketbolt sla` in a channel: its open tickets by time left, the breached one on top,
    each linked to Gorgias; other channels get a clear empty answer, extra words the usage."""
    now = datetime.now(UTC)
    scene.sla.clock = lambda: now - timedelta(hours=1)
    _, late = await scene.ticket(scene.vip, "Waiting since this morning")
    scene.sla.clock = lambda: now
    _, fresh = await scene.ticket(scene.vip, "Just arrived")

    shown = await command(scene, scene.vip, "sla")
    quiet = await command(scene, scene.office, "sla")
    no_policy = await command(scene, scene.leads, "sla")
    wrong = await command(scene, scene.vip, "sla everything")

    assert "2 open, 1 breached" in shown
    first, second = shown.index(f"#{late.ticket_id}>"), shown.index(f"#{fresh.ticket_id}>")
    assert first < second
    assert "first response breached 45m" in shown
    assert "first response due in 15m (vip)" in shown
    assert f"/app/ticket/{late.ticket_id}|#{late.ticket_id}>" in shown
    assert "No open tickets with an SLA in this channel." in quiet
    assert "This channel has no SLA policy" in no_policy
    assert "`sla` takes nothing after it" in wrong
    assert "/ticketbolt sla" in wrong


async def test_status_and_metrics_show_the_watchdogs_share_and_the_tickets(scene: Scene) -> None:
    """`/ticketbolt status` shows the watchdog's share of the Gorgias allowance and its calls;
    /metrics the open tickets per policy and state, and the calls against the budget."""
    _, clock = await scene.ticket(scene.vip, "Broken zip")
    await scene.watchdog.run_once(clock.created_at + timedelta(minutes=12))

    shown = await command(scene, scene.vip, "status")
    metrics = scene.stack.runtime.metrics.render().decode()

    budget = scene.watchdog.api_calls_per_run  # 1000/1 in tests: 25 % of 10 s of it
    assert 2500 == budget
    assert f"SLA watchdog 25% share: up to {budget} calls per 10s run, 1 in the last" in shown
    expected: dict[str, Any] = {
        'ticketbolt_sla_tickets{policy="vip",state="due"}': 1.0,
        'ticketbolt_sla_tickets{policy="vip",state="warned"}': 1.0,
        'ticketbolt_sla_tickets{policy="vip",state="breached"}': 0.0,
        'ticketbolt_sla_notices_total{clock="first_response",policy="vip",stage="warn"}': 1.0,
        "ticketbolt_sla_api_calls_total": 1.0,
        "ticketbolt_sla_api_budget_per_run": float(budget),
    }
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("tick"))
    assert expected == {name: float(values[name]) for name in expected}
