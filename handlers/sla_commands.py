"""`/ticketbolt sla`: the channel's open tickets by time left on their SLA, breached first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticketbolt.handlers.blocks_status import Answer, _context, _section, duration, problem
from ticketbolt.handlers.sla import CLOCK_LABELS, CLOCKS, Clock, ClockName, SlaService
from ticketbolt.handlers.sla_hours import business_time_between

LIMIT = 200  # tickets read; the answer shows the first SHOWN of them
SHOWN = 20  # keeps the section under Slack's 3000 characters


def nearest(clock: Clock) -> tuple[ClockName, datetime] | None:
    """The running clock that falls due first (a breached one included)."""
    running = [(n, due) for n in CLOCKS if clock.running(n) and (due := clock.due_at(n))]
    return min(running, key=lambda pair: pair[1], default=None)


def sla_line(service: SlaService, clock: Clock, link: str, now: datetime) -> str:
    found = nearest(clock)
    ticket = f"<{link}|#{clock.ticket_id}>" if link else f"#{clock.ticket_id}"
    if found is None:
        return f"⚪ {ticket} no SLA clock running ({clock.policy})"
    name, due = found
    what = CLOCK_LABELS[name]
    if due <= now:
        return f"🔴 {ticket} {what} breached {duration((now - due).total_seconds())} ago"
    left = business_time_between(service.schedule_of(clock.policy), now, due)
    icon = "⏳" if getattr(clock, f"{name}_warned") else "🟢"
    return f"{icon} {ticket} {what} due in {duration(left.total_seconds())} ({clock.policy})"


def by_time_left(clocks: list[Clock], now: datetime) -> list[Clock]:
    """Breached first (longest overdue on top), then the least time left; no clock last."""

    def key(clock: Clock) -> tuple[int, float]:
        found = nearest(clock)
        if found is None:
            return (1, 0.0)
        return (0, (found[1] - now).total_seconds())

    return sorted(clocks, key=key)


async def sla_answer(
    service: SlaService | None, gorgias: Any, team_id: str, channel_id: str
) -> Answer:
    """The answer for the caller's channel; what to set when the channel has no policy."""
    if service is None:
        return problem("No SLA policies are set: add `sla_policies` to the channels file.")
    clocks = await service.store.open_in(team_id, channel_id, LIMIT)
    if not clocks:
        text = (
            "No open tickets with an SLA in this channel."
            if service.routing.of(channel_id).sla
            else "This channel has no SLA policy (the channels file's `sla`): no clocks run here."
        )
        return text, [_section(text)]
    now = service.clock()
    ordered = by_time_left(clocks, now)
    lines = [
        sla_line(service, c, gorgias.ticket_link(c.ticket_id) if gorgias else "", now)
        for c in ordered[:SHOWN]
    ]
    breached = sum(1 for c in ordered if (n := nearest(c)) is not None and n[1] <= now)
    head = f"*SLA in this channel* — {len(clocks)} open, {breached} breached"
    more = [f"…and {len(ordered) - SHOWN} more."] if len(ordered) > SHOWN else []
    text = "\n".join([head, *lines, *more])
    return text, [_section(text), _context("Only you can see this.")]
