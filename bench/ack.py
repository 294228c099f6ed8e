"""Benchmark: does ticket work slow acknowledgements? Ack latency with the worker off, in the
server's process, and in a supervised child process, at the same offered rate in one run.

For each placement this process starts the Slack emulator (messages seeded so the worker has
real tickets to make) and the Gorgias emulator (20 ms per call), then `ticketbolt.bench.service`
with TICKETBOLT_WORKER_PROCESS set to `inline` or `process` (or `--no-worker`), all three on
Redis and on a fresh database of the same kind. `ticketbolt.bench.loadgen`, its own process,
offers signed 🎫 reactions at a fixed rate; the figures are the ack latency it sees, and the
tickets the worker made while the acks were measured."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ticketbolt.bench.harness import (
    Child,
    add_rate_options,
    add_settings_option,
    base_parser,
    emulators,
    loadgen_spec,
    overrides,
    print_table,
    run_and_emit,
    run_loadgen,
    service_env,
)
from ticketbolt.bench.memory import seed
from ticketbolt.bench.stats import log, machine

PLACEMENTS = ("off", "inline", "process")


async def one(args: Any, placement: str) -> dict[str, Any]:
    events = int(args.rate * (args.seconds + args.warmup_seconds))
    async with emulators(args.database_url, fixed_clock=True) as (slack, gorgias, database_url):
        gorgias.faults.latency_ms = args.gorgias_latency_ms
        messages = seed(slack, events)
        mode = "inline" if placement == "off" else placement
        env = service_env(
            slack.api_url,
            gorgias.base_url,
            database_url,
            REDIS_URL=args.redis_url,
            TICKETBOLT_WORKER_PROCESS=mode,
            TICKETBOLT_JOB_POLL_INTERVAL="0.5",  # the default: wake-ups, not polling, find jobs
            **overrides(args.settings),
        )
        command = ["-m", "ticketbolt.bench.service"] + (
            ["--no-worker"] if placement == "off" else []
        )
        async with Child(command, env) as service:
            await asyncio.sleep(args.settle)  # a child worker starts after its parent is ready
            slack.events_url = f"{service.url}/slack/events"
            steps = [
                {"rate": args.rate, "seconds": args.warmup_seconds, "role": "warmup"},
                {"rate": args.rate, "seconds": args.seconds, "role": "fixed"},
            ]
            spec = loadgen_spec(service, slack, f"ack{placement}", steps, **messages)
            log(f"worker {placement}: {args.rate:.0f}/s for {args.seconds:.0f} s")
            step = (await run_loadgen(spec))["steps"][-1]
            tickets = len(gorgias.tickets)
            slack.events_url = None
    return {
        "placement": placement,
        "database": database_url.split("+", 1)[0],
        "p50_ms": step["p50_ms"],
        "p99_ms": step["p99_ms"],
        "sustained_rate": step["sustained_rate"],
        "errors": step["errors"],
        "server_cpu_ms_per_event": step["server_cpu_ms_per_event"],
        "tickets_during_run": tickets,
    }


async def bench(args: Any) -> dict[str, Any]:
    runs = {placement: await one(args, placement) for placement in PLACEMENTS}
    off = runs["off"]["p99_ms"]
    return {
        "benchmark": "ack",
        "machine": machine(),
        "offered_rate": args.rate,
        "seconds": args.seconds,
        "gorgias_latency_ms": args.gorgias_latency_ms,
        "settings_changed": {
            "TICKETBOLT_SLACK_LIMITS": "off",
            "GORGIAS_RATE_LIMIT": "100000/1",
            **overrides(args.settings),
        },
        "runs": runs,
        "p99_ratio_to_worker_off": {
            p: round(runs[p]["p99_ms"] / off, 2) if off else 0.0 for p in ("inline", "process")
        },
    }


def table(result: dict[str, Any]) -> None:
    changed = ", ".join(f"{k}={v}" for k, v in result["settings_changed"].items())
    print(
        f"ack latency at {result['offered_rate']:.0f}/s for {result['seconds']:.0f} s, "
        f"Gorgias {result['gorgias_latency_ms']} ms; settings changed: {changed}"
    )
    ratios = result["p99_ratio_to_worker_off"]
    print_table(
        ("worker", "p50 ms", "p99 ms", "p99 ÷ off", "events/s", "errors", "tickets meanwhile"),
        [
            (
                p,
                r["p50_ms"],
                r["p99_ms"],
                ratios.get(p, 1.0),
                r["sustained_rate"],
                r["errors"],
                r["tickets_during_run"],
            )
            for p, r in result["runs"].items()
        ],
    )


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__, database=True)
    add_rate_options(parser, 100, "offered events per second", 10, "length of the measured step")
    parser.add_argument("--warmup-seconds", type=float, default=2, help="unmeasured lead-in")
    parser.add_argument(
        "--settle", type=float, default=5, help="seconds between ready and the first event"
    )
    parser.add_argument("--gorgias-latency-ms", type=int, default=20)
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/12",
        help="Redis for all three runs (a child worker needs it; the others get it too, alike)",
    )
    # The service's environment is built here, not inherited: a setting such as
    # TICKETBOLT_WORKER_NICE reaches it only through --set.
    add_settings_option(parser, "TICKETBOLT_WORKER_NICE=10")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.seconds, args.warmup_seconds, args.settle = 20, 1, 0.5, 2
    result = run_and_emit(bench, args, table)
    return 0 if all(r["errors"] == 0 for r in result["runs"].values()) else 1
