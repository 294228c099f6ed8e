"""The SLA watchdog's parts, from the channels file and the settings (handlers/sla*.py)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.channels import ChannelsFile
from ticketbolt.bot.db.sla import SlaClocks
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.settings import Settings
from ticketbolt.handlers.channel_rules import Routing
from ticketbolt.handlers.deps import Deps, JobSink
from ticketbolt.handlers.sla import SlaService
from ticketbolt.handlers.sla_csat import Satisfaction
from ticketbolt.handlers.sla_hours import Schedule
from ticketbolt.handlers.sla_watchdog import SlaWatchdog
from ticketbolt.integrations.gorgias import GorgiasClient
from ticketbolt.integrations.resilience import parse_rate_limit


def sla_service(
    settings: Settings,
    channels: ChannelsFile,
    routing: Routing,
    sessions: async_sessionmaker[Any],
    wakeup: asyncio.Event | None = None,
) -> SlaService | None:
    """Clocks for the channels the file gives a policy; None when it defines no policy."""
    if not channels.sla_policies:
        return None
    return SlaService(
        store=SlaClocks(sessions, wakeup=wakeup),
        policies=channels.sla_policies,
        schedule=Schedule.of(channels.business_hours),
        routing=routing,
        notes_count=settings.sla_note_counts_as_response,
    )


def satisfaction(
    settings: Settings,
    jobs: JobSink,
    gorgias: GorgiasClient | None,
    routing: Routing,
    sla: SlaService | None,
) -> Satisfaction | None:
    """Survey scores back in the threads of tickets made from Slack; None without Gorgias."""
    if gorgias is None:
        return None
    return Satisfaction(jobs, gorgias, routing, sla, alert_below=settings.csat_alert_below)


def calls_per_run(rate_limit: str, share: float, interval: float) -> int:
    """`share` of what the Gorgias allowance grants in one interval, at least one call."""
    capacity, window = parse_rate_limit(rate_limit)
    return max(1, math.floor(capacity / window * interval * share))


def sla_watchdog(settings: Settings, deps: Deps, metrics: Metrics) -> SlaWatchdog | None:
    """The periodic run; None without policies or without Gorgias to confirm with."""
    if deps.sla is None or deps.gorgias is None:
        return None
    interval, share = settings.sla_interval_seconds, settings.sla_api_share
    return SlaWatchdog(
        deps,
        deps.sla,
        api_calls_per_run=calls_per_run(settings.gorgias_rate_limit, share, interval),
        interval=interval,
        share=share,
        csat=deps.csat,
        metrics=metrics.sla,
    )
