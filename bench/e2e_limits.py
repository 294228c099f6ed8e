"""`bench e2e --slack-limits real`: a burst of 🎫 across channels under Slack's tiers and
Gorgias' allowance, against the binding limit those imply.

The Slack emulator enforces Slack's per-method tiers and the per-channel `chat.postMessage`
limit (integrations/slack/limits.py); the Gorgias emulator enforces `--gorgias-limit`. The bot
runs with its client-side limiter on (`TICKETBOLT_SLACK_LIMITS`) following the same table, and
with the same Gorgias limit. Messages are seeded straight into the emulator (not seen live), so
each ticket reads its message once.

The binding limit comes from the calls the run made: for each limited method, its allowance
(calls per minute; per channel × channels for `chat.postMessage`) ÷ the calls per ticket it
measured; Gorgias' allowance ÷ Gorgias requests per ticket; the smallest binds. Because a leaky
bucket first lets a full bucket through at once, the best a burst of n tickets can do is
`(calls − bucket) ÷ rate` seconds on the binding method; the share of the limit used is that
best time over the time taken, and also, as for Gorgias, admitted calls over
`bucket + rate × span` on the binding method.

`--tier-scale S` divides every window by S (Slack's and Gorgias'), so `--quick` keeps the same
shape in seconds; the report's "per minute" figures are then per minute of scaled time ÷ S.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from typing import Any

import aiohttp

from ticketbolt.bench.harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Child,
    Stamped,
    changed_settings,
    fresh_database,
    overrides,
    print_settings,
    print_table,
    react_all,
    seed_people,
    service_env,
    wait_queue_empty,
)
from ticketbolt.bench.stats import log, machine, percentile
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.gorgias.emulator.gateway import Faults
from ticketbolt.integrations.resilience import parse_rate_limit
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel
from ticketbolt.integrations.slack.limits import (
    REAL_PER_CHANNEL,
    REAL_TIERS,
    Allowance,
    SlackLimits,
    parse_limits,
)


def limits_spec(scale: float) -> str:
    """`TICKETBOLT_SLACK_LIMITS` for Slack's real tiers with every window divided by `scale`."""
    if scale == 1:
        return "on"
    words = []
    for name, allowance in {**REAL_TIERS, **REAL_PER_CHANNEL}.items():
        burst = f":{allowance.burst}" if allowance.burst else ""
        words.append(f"{name}={allowance.calls}/{allowance.window / scale:.6g}{burst}")
    return ",".join(words)


def scaled_rate_limit(spec: str, scale: float) -> str:
    capacity, window = parse_rate_limit(spec)
    return f"{capacity}/{window / scale:.6g}"


def seed(slack: SlackEmulator, n: int, channels: int) -> tuple[str, list[tuple[Channel, str]]]:
    """An agent, 20 customers, `channels` channels and `n` messages dealt round-robin."""
    agent, customers = seed_people(slack)
    rooms = [
        slack.add_channel(f"support-{c}", members=[agent, *customers]) for c in range(channels)
    ]
    messages = []
    for i in range(n):
        room = rooms[i % channels]
        ts = slack.state.post(
            room, customers[i % len(customers)], f"Order #{10_000 + i} has not arrived"
        ).ts
        messages.append((room, ts))
    return agent.id, messages


def replies(channel: Channel, ts: str) -> list[float]:
    """The emulator's timestamps (wall clock) of the thread replies under `ts`."""
    return [float(m.ts) for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]


def binding_limit(
    table: SlackLimits,
    calls: Counter[str],
    gorgias: tuple[int, float],
    gorgias_requests: int,
    n: int,
    channels: int,
) -> list[dict[str, Any]]:
    """Every limit the run touched, as tickets per minute, smallest (binding) first.

    Windows are as enforced (scaled); `per_minute` figures are per minute of that time.
    """
    limits: list[dict[str, Any]] = []

    def add(name: str, allowance: Allowance, used: int, lanes: int = 1) -> None:
        per_ticket = used / n
        per_minute = allowance.rate * 60 * lanes
        limits.append(
            {
                "limit": name,
                "calls_per_ticket": round(per_ticket, 3),
                "calls_per_minute": round(per_minute, 2),
                "bucket": allowance.capacity * lanes,
                "tickets_per_minute": round(per_minute / per_ticket, 2),
                "calls": used,
                "rate_per_second": allowance.rate * lanes,
            }
        )

    for method, used in sorted(calls.items()):
        if used == 0:
            continue
        if (allowance := table.for_method(method)) is not None:
            add(f"slack {method} ({table.methods[method]})", allowance, used)
        if (allowance := table.for_channel(method)) is not None:
            add(f"slack {method} per channel × {channels}", allowance, used, channels)
    capacity, window = gorgias
    if gorgias_requests:
        add(f"gorgias {capacity}/{window:g} s", Allowance(capacity, window), gorgias_requests)
    limits.sort(key=lambda limit: limit["tickets_per_minute"])
    return limits


async def wait_replied(
    http: aiohttp.ClientSession,
    url: str,
    messages: list[tuple[Channel, str]],
    timeout: float,
) -> dict[str, Any]:
    """Until every message has a thread reply and no job is queued or running."""
    deadline = time.monotonic() + timeout
    pending = list(messages)
    last_log = time.monotonic()
    while pending:
        pending = [(room, ts) for room, ts in pending if not replies(room, ts)]
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{len(pending)} of {len(messages)} without a reply after {timeout}s"
            )
        if time.monotonic() - last_log > 15:
            log(f"  {len(messages) - len(pending)} of {len(messages)} replied")
            last_log = time.monotonic()
        await asyncio.sleep(0.1)
    return await wait_queue_empty(http, url, deadline, timeout, 0.1)


async def burst(args: Any) -> dict[str, Any]:
    n, channels, scale = args.burst, args.channels, args.tier_scale
    spec = limits_spec(scale)
    table = parse_limits(spec)
    assert table is not None
    gorgias_spec = scaled_rate_limit(args.rate_limit, scale)
    gorgias_limit = parse_rate_limit(gorgias_spec)
    # Its own team id and bot token keep this run's cached people and channels, and its Slack
    # limiters (keyed by the token), apart from an earlier run's in a shared Redis: a bucket
    # still full from the last run would slow the bot while the fresh emulator's is empty.
    team = f"TB{secrets.token_hex(4).upper()}"
    token = f"{BOT_TOKEN}-{secrets.token_hex(4)}"
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=token, team_id=team, slack_limits=table) as slack,
        GorgiasEmulator(
            rate_limit=gorgias_limit, faults=Faults(latency_ms=args.latency_ms)
        ) as gorgias,
        fresh_database(args.database_url) as database_url,
    ):
        calls, requests = Stamped(), Stamped()
        slack.calls, gorgias.requests = calls, requests
        agent, messages = seed(slack, n, channels)
        extra = {
            "TICKETBOLT_SLACK_LIMITS": spec,
            "GORGIAS_RATE_LIMIT": gorgias_spec,
            "TICKETBOLT_LANE_TICKETS": str(args.worker_concurrency),
            "SLACK_BOT_TOKEN": token,
        }
        if args.redis_url:
            extra["REDIS_URL"] = args.redis_url
        extra.update(overrides(args.settings))
        env = service_env(slack.api_url, gorgias.base_url, database_url, **extra)
        async with (
            Child(["-m", "ticketbolt", "run"], env, name="service") as service,
            aiohttp.ClientSession() as http,
        ):
            slack.events_url = f"{service.url}/slack/events"
            await slack.drain()
            calls_before, requests_before = len(calls), len(requests)
            served_before = Counter(slack.limits.served)
            reacted: dict[str, float] = {}
            log(f"burst: {n} 🎫 across {channels} channels, Slack limits {spec!r}")
            started = time.perf_counter()
            errors = await react_all(slack, agent, messages, args.senders, reacted)
            acked = time.perf_counter() - started
            # Far more than the binding limit needs: a stall shows as a timeout, not a hang.
            budget = 60 + 6 * n / scale
            stats = await wait_replied(http, service.url, messages, budget)
            drained = time.perf_counter() - started
            await slack.drain()
            run_calls = list(zip(calls[calls_before:], calls.times[calls_before:], strict=True))
            run_requests = requests.times[requests_before:]
            served = Counter(slack.limits.served)
            served.subtract(served_before)
            # A long tail is explained by the service's warnings (failed attempts, say).
            warnings = service.log_events()
    attempted = Counter(call.method for call, _ in run_calls)
    refused = {method: count for method, count in served.items() if count}
    admitted = Counter({m: attempted[m] - refused.get(m, 0) for m in attempted})
    limits = binding_limit(table, admitted, gorgias_limit, len(run_requests), n, channels)
    binding = limits[0]
    # The binding method's admitted calls over time: how full its bucket was kept.
    name = binding["limit"]
    if name.startswith("gorgias"):
        times = run_requests
    else:
        method = name.split()[1]
        times = [at for call, at in run_calls if call.method == method]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = binding["rate_per_second"]
    best_seconds = max(0.0, (binding["calls"] - binding["bucket"]) / rate)
    reply_counts = [len(replies(room, ts)) for room, ts in messages]
    latencies = sorted(min(replies(room, ts)) - reacted[ts] for room, ts in messages)
    first = min(reacted.values())
    done_at = sorted(min(replies(room, ts)) - first for room, ts in messages)
    return {
        "benchmark": "e2e",
        "mode": "slack_limits_real",
        "machine": machine(),
        "database": (args.database_url or "sqlite").split("+", 1)[0],
        "redis": bool(args.redis_url),
        "settings": changed_settings(env),
        "tier_scale": scale,
        "slack_limits": spec,
        "gorgias_limit": gorgias_spec,
        "gorgias_latency_ms": args.latency_ms,
        "tickets_asked": n,
        "channels": channels,
        "tickets": len(gorgias.tickets),
        "reaction_errors": errors,
        "jobs_done": stats["queue"]["by_state"]["done"],
        "jobs_failed": stats["queue"]["by_state"]["failed"],
        "seconds_to_ack_all": round(acked, 3),
        "seconds_to_drain": round(drained, 3),
        # In real minutes; with --tier-scale the enforced windows are that much shorter.
        "tickets_per_minute": round(n / drained * 60 / scale, 2),
        "binding_limit": binding["limit"],
        "binding_tickets_per_minute": round(binding["tickets_per_minute"] / scale, 2),
        "limits": [
            {**limit, "tickets_per_minute": round(limit["tickets_per_minute"] / scale, 2)}
            for limit in limits
        ],
        "best_seconds": round(best_seconds, 3),
        "limit_used": round(best_seconds / drained, 3) if drained else 0.0,
        "binding_calls_seconds": round(span, 3),
        "binding_bucket_used": round(binding["calls"] / (binding["bucket"] + rate * span), 3),
        "slack_calls_per_ticket": round(sum(admitted.values()) / n, 2),
        "slack_calls_by_method": dict(sorted(admitted.items())),
        "slack_429_by_method": dict(sorted(refused.items())),
        "slack_429": sum(refused.values()),
        "gorgias_requests": len(run_requests),
        "gorgias_calls_per_ticket": round(len(run_requests) / n, 2),
        "gorgias_429": gorgias.rate_limited,
        "latency_s": {
            "p50": round(percentile(latencies, 50), 2),
            "p95": round(percentile(latencies, 95), 2),
            "max": round(latencies[-1], 2) if latencies else 0.0,
        },
        # Seconds from the first 🎫 until half, 90 % and all of the tickets had their reply.
        "replied_by_s": {
            "50%": round(percentile(done_at, 50), 1),
            "90%": round(percentile(done_at, 90), 1),
            "100%": round(done_at[-1], 1) if done_at else 0.0,
        },
        "service_warnings": warnings,
        "replies_exactly_one": sum(1 for count in reply_counts if count == 1),
        "replies_more_than_one": sum(1 for count in reply_counts if count > 1),
        "replies_missing": sum(1 for count in reply_counts if count == 0),
    }


def table(result: dict[str, Any]) -> None:
    scaled = f", windows ÷ {result['tier_scale']:g}" if result["tier_scale"] != 1 else ""
    print(
        f"e2e burst on {result['database']}{' + redis' if result['redis'] else ''}: "
        f"{result['tickets_asked']} 🎫 across {result['channels']} channels, Slack's tiers on in "
        f"the emulator and the bot{scaled}, Gorgias {result['gorgias_limit']}"
    )
    print_settings(result["settings"])
    print()
    print_table(
        ("limit", "calls/ticket", "calls/min", "tickets/min"),
        [
            (
                limit["limit"],
                limit["calls_per_ticket"],
                round(limit["calls_per_minute"] / result["tier_scale"], 2),
                limit["tickets_per_minute"],
            )
            for limit in result["limits"]
        ],
    )
    lat = result["latency_s"]
    print(
        f"\nbinding: {result['binding_limit']} at {result['binding_tickets_per_minute']} "
        f"tickets/min"
    )
    print(
        f"measured: {result['tickets']} tickets in {result['seconds_to_drain']} s = "
        f"{result['tickets_per_minute']} tickets/min; the limits allow it in "
        f"{result['best_seconds']} s after the initial bucket: {result['limit_used']:.1%} of "
        f"the binding limit ({result['binding_bucket_used']:.1%} of the binding bucket over "
        f"its {result['binding_calls_seconds']} s)"
    )
    print(
        f"429s served: Slack {result['slack_429']} {result['slack_429_by_method'] or ''}, "
        f"Gorgias {result['gorgias_429']}"
    )
    print(
        f"🎫 → thread reply: p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s; "
        f"exactly one reply: {result['replies_exactly_one']} of {result['tickets_asked']} "
        f"(more than one: {result['replies_more_than_one']}, none: {result['replies_missing']})"
    )
    print(f"Slack calls by method: {result['slack_calls_by_method']}")
    by = result["replied_by_s"]
    print(
        f"replied by (s after the first 🎫): 50 % {by['50%']}, 90 % {by['90%']}, all {by['100%']}"
    )
    if result["service_warnings"]:
        print(f"service warnings: {result['service_warnings']}")
