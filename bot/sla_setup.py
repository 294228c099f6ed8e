"""The SLA watchdog's parts, from the channels file and the settings (handlers/sla*.py)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.channels import ChannelsFile
from ticketbolt.bot.db.sla import SlaClocks
from ticketbolt.bot.settings import Settings
from ticketbolt.handlers.channel_rules import Routing
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.sla import SlaService
from ticketbolt.handlers.sla_hours import Schedule
from ticketbolt.handlers.sla_watchdog import SlaWatchdog
from ticketbolt.integrations.resilience import parse_rate_limit

WATCHDOG_INTERVAL = 30.0  # seconds between runs


def sla_service(
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
    )


def calls_per_run(rate_limit: str, share: float, interval: float = WATCHDOG_INTERVAL) -> int:
    """`share` of what the Gorgias allowance grants in one interval, at least one call."""
    capacity, window = parse_rate_limit(rate_limit)
    return max(1, math.floor(capacity / window * interval * share))


def sla_watchdog(settings: Settings, deps: Deps) -> SlaWatchdog | None:
    """The periodic run; None without policies or without Gorgias to confirm with."""
    if deps.sla is None or deps.gorgias is None:
        return None
    calls = calls_per_run(settings.gorgias_rate_limit, settings.sla_api_share)
    return SlaWatchdog(deps, deps.sla, api_calls_per_run=calls)
