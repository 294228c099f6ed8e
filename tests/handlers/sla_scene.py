"""The SLA scenario shared by the SLA tests: two policies, an alert channel, Gorgias' webhooks.

`vip` runs 15 minutes to a first response and 4 hours to resolution on the wall clock, with
alerts in `leads`; `office` runs 15 minutes in Paris business hours. Watchdog runs are
triggered directly with the instant they decide at (never real waiting).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.handlers.sla import Clock, SlaService
from ticketbolt.handlers.sla_watchdog import SlaWatchdog
from ticketbolt.integrations.slack.emulator.state import Channel, Message, User

WEBHOOK_TOKEN = "gorgias-webhook-secret"


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

    async def clock(self, ticket_id: int) -> Clock:
        found = await self.sla.store.get(ticket_id)
        assert found is not None
        return found

    async def settle(self) -> None:
        """Gorgias' webhooks delivered and every job they made done."""

        async def idle() -> bool:
            states = (await self.stack.runtime.queue.stats())["by_state"]
            return states["queued"] == 0 and states["running"] == 0

        for _ in range(2):  # a delivery's job may post, and a post may make another job
            await self.stack.gorgias.wait_webhooks_idle()
            await eventually(idle, what="the job queue to drain")


@asynccontextmanager
async def sla_scene(database: Database, tmp_path: Path, **settings: Any) -> AsyncIterator[Scene]:
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
            f"  {vip.id}: {{sla: vip, alert_channel: {leads.id}, alert_mention: S0ONCALL}}\n"
            f"  {office.id}: {{sla: office}}\n"
        )
        async with running_app(
            database,
            slack,
            gorgias,
            TICKETBOLT_CHANNELS=str(channels_file),
            TICKETBOLT_GORGIAS_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            **settings,
        ) as stack:
            assert stack.runtime.gorgias is not None
            await stack.runtime.gorgias.register_http_integration(
                "ticketbolt", f"{stack.url}/gorgias/webhook", {"X-Ticketbolt-Token": WEBHOOK_TOKEN}
            )
            yield Scene(stack, customer, agent, vip, office, leads)


def replies(channel: Channel, ts: str, needle: str) -> list[Message]:
    return [
        m
        for m in channel.messages.values()
        if m.thread_ts == ts and m.ts != ts and needle in (m.text or "")
    ]


def top_level(channel: Channel, needle: str) -> list[Message]:
    return [m for m in channel.messages.values() if not m.thread_ts and needle in (m.text or "")]


def tags(scene: Scene, ticket_id: int) -> set[str]:
    gorgias = scene.stack.gorgias
    return {t["name"] for t in gorgias.state.ticket_view(gorgias.tickets[ticket_id])["tags"]}
