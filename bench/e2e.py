"""Benchmark: N messages reacted 🎫 become N Gorgias tickets; tickets/s, calls per ticket, 429s.

This process hosts the Slack and Gorgias emulators (20 ms emulated Gorgias latency); the service
runs as `python -m ticketbolt run` with its worker. Phase one: Gorgias' rate limit off. Phase two:
the limit on, the same `capacity/window` given to the emulator and to the bot (GORGIAS_RATE_LIMIT);
the emulator counts the 429s it serves, and the allowance used is requests admitted against the most
a leaky bucket of that shape admits in the same time (capacity + rate × duration).

`--slack-limits real` runs one burst under Slack's tiers instead (bench/e2e_limits.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from ticketbolt.bench.harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Child,
    Stamped,
    add_settings_option,
    base_parser,
    fresh_database,
    print_table,
    react_all,
    run_and_emit,
    seed_people,
    service_env,
    wait_queue_empty,
)
from ticketbolt.bench.stats import log, machine, tree_cpu_seconds
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.gorgias.emulator.gateway import Faults
from ticketbolt.integrations.resilience import parse_rate_limit
from ticketbolt.integrations.slack.emulator import SlackEmulator


def seed(slack: SlackEmulator, n: int) -> tuple[str, str, list[str]]:
    """An agent, customers with e-mail addresses, a channel and `n` distinct messages."""
    agent, customers = seed_people(slack)
    channel = slack.add_channel("support", members=[agent, *customers])
    timestamps = [
        slack.state.post(
            channel,
            customers[i % len(customers)],
            f"Order #{10_000 + i} has not arrived, can you check?",
        ).ts
        for i in range(n)
    ]
    return agent.id, channel.id, timestamps


async def wait_drained(
    http: aiohttp.ClientSession, url: str, gorgias: GorgiasEmulator, n: int, timeout: float
) -> dict[str, Any]:
    """Until `n` tickets exist and no job is queued or running; the service's final stats."""
    deadline = time.monotonic() + timeout
    # The emulator's ticket count costs the service nothing; /admin/stats runs queries there.
    while len(gorgias.tickets) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(gorgias.tickets)} of {n} tickets after {timeout}s")
        await asyncio.sleep(0.02)
    return await wait_queue_empty(http, url, deadline, timeout, 0.05)


async def phase(args: Any, n: int, rate_limit: str | None) -> dict[str, Any]:
    limit = parse_rate_limit(rate_limit) if rate_limit else None
    faults = Faults(latency_ms=args.latency_ms)
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN) as slack,
        GorgiasEmulator(rate_limit=limit, faults=faults) as gorgias,
        fresh_database(args.database_url) as database_url,
    ):
        stamped = Stamped()
        gorgias.requests = stamped
        agent, channel, timestamps = seed(slack, n)
        messages = [(channel, ts) for ts in timestamps]
        # Ticket jobs run in the tickets lane; the ceiling keeps the other lanes no wider.
        slots = str(args.worker_concurrency)
        extra = {"TICKETBOLT_LANE_TICKETS": slots, "TICKETBOLT_WORKER_CONCURRENCY": slots}
        if rate_limit:
            extra["GORGIAS_RATE_LIMIT"] = rate_limit
        if args.redis_url:  # with PostgreSQL too, the worker runs as the server's child
            extra["REDIS_URL"] = args.redis_url
        env = service_env(slack.api_url, gorgias.base_url, database_url, **extra)
        async with (
            Child(["-m", "ticketbolt", "run"], env, name="service") as service,
            aiohttp.ClientSession() as http,
        ):
            slack.events_url = f"{service.url}/slack/events"
            slack_before, gorgias_before = len(slack.calls), len(stamped)
            cpu_before = tree_cpu_seconds(service.pid)
            started = time.perf_counter()
            errors = await react_all(slack, agent, messages, args.senders)
            acked = time.perf_counter() - started
            budget = 60 + (n / (limit[0] / limit[1]) * 2 if limit else n / 10)
            stats = await wait_drained(http, service.url, gorgias, n, budget)
            drained = time.perf_counter() - started
            cpu = tree_cpu_seconds(service.pid) - cpu_before
            await slack.drain()
            slack_calls = len(slack.calls) - slack_before
            run_times = stamped.times[gorgias_before:]
        jobs = stats["queue"]["by_state"]
        result: dict[str, Any] = {
            "messages": n,
            "tickets": len(gorgias.tickets),
            "reaction_errors": errors,
            "jobs_done": jobs["done"],
            "jobs_failed": jobs["failed"],
            "seconds_to_ack_all": round(acked, 3),
            "seconds_to_drain": round(drained, 3),
            "tickets_per_second": round(len(gorgias.tickets) / drained, 1),
            # The service's processes (a worker child included), acks and jobs alike.
            "service_cpu_ms_per_ticket": round(cpu * 1000 / n, 2),
            "slack_calls_per_ticket": round(slack_calls / n, 2),
            "gorgias_calls_per_ticket": round(len(run_times) / n, 2),
            "gorgias_429": gorgias.rate_limited,
        }
    if limit is not None:
        capacity, window = limit
        span = run_times[-1] - run_times[0] if len(run_times) > 1 else 0.0
        allowed = capacity / window
        achieved = (len(run_times) - 1) / span if span else 0.0
        result |= {
            "rate_limit": rate_limit,
            "gorgias_requests": len(run_times),
            "gorgias_seconds": round(span, 3),
            "requests_per_second": round(achieved, 2),
            "allowed_per_second": round(allowed, 2),
            "allowance_used": round(achieved / allowed, 3),
            # A leaky bucket admits at most its capacity at once plus its rate after that.
            "allowance_used_burst_adjusted": round(len(run_times) / (capacity + allowed * span), 3),
        }
    return result


async def bench(args: Any) -> dict[str, Any]:
    log(f"rate limit off: {args.tickets} tickets, Gorgias latency {args.latency_ms:.0f} ms")
    unlimited = await phase(args, args.tickets, None)
    log(f"  {unlimited['tickets']} tickets in {unlimited['seconds_to_drain']} s")
    log(f"rate limit {args.rate_limit}: {args.limited_tickets} tickets")
    limited = await phase(args, args.limited_tickets, args.rate_limit)
    log(
        f"  {limited['tickets']} tickets in {limited['seconds_to_drain']} s, "
        f"{limited['gorgias_429']} 429s"
    )
    return {
        "benchmark": "e2e",
        "machine": machine(),
        "database": (args.database_url or "sqlite").split("+", 1)[0],
        "gorgias_latency_ms": args.latency_ms,
        "worker_concurrency": args.worker_concurrency,
        "rate_limit_off": unlimited,
        "rate_limit_on": limited,
    }


def table(result: dict[str, Any]) -> None:
    print(
        f"e2e on {result['database']}, Gorgias latency {result['gorgias_latency_ms']} ms, "
        f"worker concurrency {result['worker_concurrency']}"
    )
    rows = []
    for name in ("rate_limit_off", "rate_limit_on"):
        r = result[name]
        rows.append(
            (
                name.replace("_", " "),
                r["tickets"],
                r["seconds_to_drain"],
                r["tickets_per_second"],
                r["service_cpu_ms_per_ticket"],
                r["slack_calls_per_ticket"],
                r["gorgias_calls_per_ticket"],
                r["gorgias_429"],
            )
        )
    print_table(
        (
            "",
            "tickets",
            "drain s",
            "tickets/s",
            "CPU ms/t",
            "Slack calls/t",
            "Gorgias calls/t",
            "429s",
        ),
        rows,
    )
    on = result["rate_limit_on"]
    print(
        f"\nrate limit {on['rate_limit']}: {on['requests_per_second']} req/s of "
        f"{on['allowed_per_second']} allowed = {on['allowance_used']:.1%} "
        f"({on['allowance_used_burst_adjusted']:.1%} counting the initial burst)"
    )


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__, database=True)
    parser.add_argument("--tickets", type=int, default=1000, help="with the rate limit off")
    parser.add_argument("--limited-tickets", type=int, default=150, help="with the rate limit on")
    parser.add_argument(
        "--rate-limit",
        "--gorgias-limit",
        dest="rate_limit",
        default=None,
        help="Gorgias' capacity/window seconds for the emulator and the bot "
        "(default 20/2; 40/20 with --slack-limits real)",
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="Gorgias emulated latency")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="the worker's ticket slots: TICKETBOLT_LANE_TICKETS (the service default is 4), "
        "and TICKETBOLT_WORKER_CONCURRENCY as the ceiling of every lane",
    )
    parser.add_argument("--senders", type=int, default=32, help="reactions in flight at once")
    parser.add_argument(
        "--slack-limits",
        choices=("off", "real"),
        default="off",
        help="real: one burst of --burst 🎫 across --channels channels with Slack's tiers on in "
        "the emulator and in the bot's limiter, reported against the binding limit "
        "(bench/e2e_limits.py)",
    )
    parser.add_argument("--burst", type=int, default=200, help="🎫 in the real-limits burst")
    parser.add_argument("--channels", type=int, default=5, help="channels the burst spans")
    parser.add_argument(
        "--tier-scale",
        type=float,
        default=1.0,
        help="divide every limit's window by this (real-limits mode; --quick uses 30)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="give the service this Redis (shared limiters, cache)"
    )
    add_settings_option(
        parser,
        "TICKETBOLT_SLACK_MAX_INLINE_WAIT=5 "
        "(real-limits mode; printed with the other settings changed from the defaults)",
    )
    args = parser.parse_args(argv)
    if args.slack_limits == "real":
        return limits_main(args)
    args.rate_limit = args.rate_limit or "20/2"
    if args.quick:
        args.tickets, args.limited_tickets, args.rate_limit = 20, 12, "5/0.5"
    result = run_and_emit(bench, args, table)
    ok = all(
        result[p]["tickets"] == result[p]["messages"] and result[p]["gorgias_429"] == 0
        for p in ("rate_limit_off", "rate_limit_on")
    )
    return 0 if ok else 1


def limits_main(args: Any) -> int:
    from ticketbolt.bench import e2e_limits  # noqa: PLC0415

    args.rate_limit = args.rate_limit or "40/20"
    if args.quick:
        args.burst, args.tier_scale = min(args.burst, 80), max(args.tier_scale, 30.0)
    result = run_and_emit(e2e_limits.burst, args, e2e_limits.table)
    ok = (
        result["tickets"] == result["tickets_asked"] == result["replies_exactly_one"]
        and result["slack_429"] == result["gorgias_429"] == 0
    )
    return 0 if ok else 1
