"""The SLA watchdog over real HTTP: signed Slack events in, the emulators recording the notices.

The watchdog's runs are triggered directly with the instant they should decide at (never real
waiting); everything else — ticket creation, agent replies, the notice jobs — goes through the
running service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.handlers.sla import Clock, SlaService
from ticketbolt.handlers.sla_watchdog import SlaWatchdog
from ticketbolt.integrations.slack.emulator.state import Channel, User

PARIS = ZoneInfo("Europe/Paris")


@dataclass
class Scene:
    stack: Stack
    customer: User
    agent: User
    vip: Channel  # 15m first response, wall clock, alerts to `leads`
    office: Channel  # 15m first response in Paris business hours
    leads: Channel

    @property
    def sla(self) -> SlaService:
        assert self.stack.runtime.deps.sla is not None
        return self.stack.runtime.deps.sla  # type: ignore[no-any-return]

    @property
    def watchdog(self) -> SlaWatchdog:
        assert self.stack.runtime.sla_watchdog is not None
        return self.stack.runtime.sla_watchdog

    async def ticket(self, channel: Channel, text: str) -> tuple[str, Clock]:
        """The customer posts, the agent reacts 🎫: the message's ts and its started clock."""
        slack = self.stack.slack
        ts = await slack.user_posts(self.customer, channel, text)
        await slack.user_reacts(self.agent, channel, ts, "ticket")
        await eventually(lambda: "eyes" in channel.messages[ts].reactions, what="the ticket")
        link = await self.stack.runtime.links.get(slack.state.team_id, channel.id, ts)
        assert link is not None
        assert link.ticket_id is not None
        clock = await self.sla.store.get(link.ticket_id)
        assert clock is not None
        return ts, clock


@pytest.fixture
async def scene(database: Database, tmp_path: Path) -> AsyncIterator[Scene]:
    async with emulators() as (slack, gorgias):
        state = slack.state
        customer = state.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
        agent = state.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
        members = [customer.id, agent.id, slack.bot_user.id]
        vip = state.add_channel("vip", members=members)
        office = state.add_channel("office", members=members)
        leads = state.add_channel("leads", members=[agent.id, slack.bot_user.id])
        channels_file = tmp_path / "channels.yaml"
        channels_file.write_text(
            "business_hours:\n"
            "  timezone: Europe/Paris\n"
            '  days: {mon-fri: "09:00-18:00"}\n'
            "  holidays: [2026-12-25]\n"
            "sla_policies:\n"
            "  vip: {first_response: 15m, resolution: 4h, warn_at: 75%, business_hours: always}\n"
            "  office: {first_response: 15m, warn_at: 75%}\n"
            "channels:\n"
            f"  {vip.id}: {{sla: vip, alert_channel: {leads.id}}}\n"
            f"  {office.id}: {{sla: office}}\n"
        )
        async with running_app(
            database, slack, gorgias, TICKETBOLT_CHANNELS=str(channels_file)
        ) as stack:
            yield Scene(stack, customer, agent, vip, office, leads)


def replies(channel: Channel, ts: str, needle: str) -> list[Any]:
    return [
        m
        for m in channel.messages.values()
        if m.thread_ts == ts and m.ts != ts and needle in (m.text or "")
    ]


def top_level(channel: Channel, needle: str) -> list[Any]:
    return [m for m in channel.messages.values() if not m.thread_ts and needle in (m.text or "")]


def tags(scene: Scene, ticket_id: int) -> set[str]:
    gorgias = scene.stack.gorgias
    return {t["name"] for t in gorgias.state.ticket_view(gorgias.tickets[ticket_id])["tags"]}


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
    assert 1 == len(top_level(scene.leads, "🔴"))
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
