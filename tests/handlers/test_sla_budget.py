"""Acceptance: Gorgias' limit at 40/20, 500 open tickets tracked, zero 429s, the watchdog within
its share — the real watchdog and the real Gorgias client over HTTP, on a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from tests.support.db import Database
from tests.support.stack import emulators, running_app
from ticketbolt.bot.db.models import SlaClock
from ticketbolt.handlers.sla import Clock, SlaService, due_times

TICKETS = 500
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TICKET = {
    "customer": {"email": "ann@example.com"},
    "messages": [{"channel": "api", "from_agent": False, "body_text": "Where is my order?"}],
}


async def test_500_open_tickets_at_40_per_20s_no_429_and_within_the_share(
    database: Database, tmp_path: Path
) -> None:
    """One ticket a second for 500 s, 1 h to a first response, warned at 80 %. The watchdog may
    spend 25 % of 40 requests per 20 s over its 30 s interval: 15 reads a run. Its first run,
    when 10 tickets reach their warning, reads those 10; its second, when all 500 have, reads
    15 and leaves the rest to later runs. Gorgias never answers 429."""
    channels = tmp_path / "channels.yaml"
    async with emulators(rate_limit=(40, 20.0)) as (slack, gorgias):
        room = slack.state.add_channel("support", members=[slack.bot_user.id])
        channels.write_text(
            "sla_policies:\n"
            "  std: {first_response: 1h, resolution: 24h, warn_at: 80%, business_hours: always}\n"
            f"channels:\n  {room.id}: {{sla: std}}\n"
        )
        async with running_app(
            database,
            slack,
            gorgias,
            GORGIAS_RATE_LIMIT="40/20",
            TICKETBOLT_CHANNELS=str(channels),
        ) as stack:
            sla, watchdog = stack.runtime.deps.sla, stack.runtime.sla_watchdog
            assert isinstance(sla, SlaService)
            assert watchdog is not None
            parent = await slack.user_posts(slack.bot_user, room, "SLA notices go here")
            rows = []
            for n in range(TICKETS):  # seeded in bulk, not made one by one through Slack
                ticket_id = gorgias.state.create_ticket(TICKET)["id"]
                created = START + timedelta(seconds=n)
                clock = Clock(
                    ticket_id, slack.state.team_id, room.id, parent, parent, "std", created
                )
                times = due_times(sla.policies["std"], sla.schedule, created)
                rows.append(
                    {**vars(clock), **times, "next_check_at": times["first_response_warn_at"]}
                )
            async with database.sessions.begin() as session:
                await session.execute(insert(SlaClock), rows)

            first = await watchdog.run_once(START + timedelta(minutes=48, seconds=9.5))
            second = await watchdog.run_once(START + timedelta(minutes=57))

            assert 15 == watchdog.api_calls_per_run
            assert (10, 10) == (first["api_calls"], first["warned"])
            assert (15, 15, TICKETS - 25) == (
                second["api_calls"],
                second["warned"],
                second["deferred"],
            )
            reads = gorgias.count("GET", "/api/tickets/")
            assert 25 == reads
            assert {
                "std": {"due": TICKETS, "warned": 25, "breached": 0}
            } == await sla.store.counts()
            assert 0 == gorgias.rate_limited
            assert 0 == gorgias.count("*", "/api/", status=429)
