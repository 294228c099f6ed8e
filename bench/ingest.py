"""Benchmark: ack latency and events/s of signed reactions, the service versus a bare Bolt floor.

Three processes on loopback: this one (the Slack and Gorgias emulators), the server under test
(`ticketbolt.bench.floor`, then `ticketbolt.bench.service --no-worker`), and
`ticketbolt.bench.loadgen`, which offers signed `reaction_added` events at a fixed rate, then at
rising rates until a step misses p99 < 100 ms with no errors. The service records one job per event
before it acks; its worker is off so the figures are the ack path alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from ticketbolt.bench.harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Child,
    add_rate_options,
    admin_stats,
    base_parser,
    fresh_database,
    loadgen_spec,
    print_table,
    run_and_emit,
    run_loadgen,
    service_env,
)
from ticketbolt.bench.stats import log, machine
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

RAMP = (100, 200, 300, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000)
P99_LIMIT_MS = 100.0


def plan(args: Any) -> list[dict[str, Any]]:
    if args.quick:
        return [
            {"rate": 50, "seconds": 0.5, "role": "warmup"},
            {"rate": 100, "seconds": 1, "role": "fixed"},
            {"rate": 100, "seconds": 0.5, "role": "ramp"},
            {"rate": 200, "seconds": 0.5, "role": "ramp"},
        ]
    return [
        {"rate": 200, "seconds": 1, "role": "warmup"},
        {"rate": args.rate, "seconds": args.seconds, "role": "fixed"},
        *({"rate": r, "seconds": args.step_seconds, "role": "ramp"} for r in args.ramp),
    ]


def summarise(steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    fixed = next(s for s in steps if s["role"] == "fixed")
    ramp = [s for s in steps if s["role"] == "ramp"]
    passing = [
        s
        for s in ramp
        if s["errors"] == 0
        and s["p99_ms"] < P99_LIMIT_MS
        and s["sustained_rate"] >= 0.9 * s["offered_rate"]
    ]
    best = max(passing, key=lambda s: s["offered_rate"]) if passing else None
    return {
        "fixed": fixed,
        "ramp": ramp,
        "max_rate_p99_under_100ms": best["offered_rate"] if best else 0,
        "max_rate_step": best,
        "errors": sum(s["errors"] for s in steps),
        "events_ok": sum(s["ok"] for s in steps),
    }


async def measure(
    server: Child, slack: SlackEmulator, steps: list[dict[str, Any]], prefix: str
) -> dict[str, Any]:
    spec = loadgen_spec(server, slack, prefix, steps, stop_when={"p99_ms": P99_LIMIT_MS})
    answer = await run_loadgen(spec)
    return summarise(answer["steps"])


async def bench(args: Any) -> dict[str, Any]:
    steps = plan(args)
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
    ):
        log("floor: bare Bolt AsyncApp, listener does nothing")
        async with Child(
            ["-m", "ticketbolt.bench.floor"], {"SLACK_SIGNING_SECRET": SIGNING_SECRET}, name="floor"
        ) as floor:
            floor_result = await measure(floor, slack, steps, "floor")
        async with fresh_database(args.database_url) as database_url:
            kind = database_url.split("+", 1)[0]
            log(f"service: full stack on {kind}, worker off")
            env = service_env(slack.api_url, gorgias.base_url, database_url)
            async with Child(["-m", "ticketbolt.bench.service", "--no-worker"], env) as service:
                service_result = await measure(service, slack, steps, "svc")
                async with aiohttp.ClientSession() as http:
                    stats = await admin_stats(http, service.url)
    service_result["jobs_recorded"] = stats["queue"]["by_state"]["queued"]
    floor_fixed, service_fixed = floor_result["fixed"], service_result["fixed"]
    return {
        "benchmark": "ingest",
        "machine": machine(),
        "database": kind,
        "worker": "off",
        "offered_rate": steps[1]["rate"],
        "floor": floor_result,
        "service": service_result,
        "ratio": {
            "p50": _ratio(service_fixed["p50_ms"], floor_fixed["p50_ms"]),
            "p99": _ratio(service_fixed["p99_ms"], floor_fixed["p99_ms"]),
            "cpu_per_event": _ratio(
                service_fixed["server_cpu_ms_per_event"], floor_fixed["server_cpu_ms_per_event"]
            ),
            "max_rate": _ratio(
                service_result["max_rate_p99_under_100ms"], floor_result["max_rate_p99_under_100ms"]
            ),
        },
        # Where both passed the same ramp step: the like-for-like comparison.
        "p99_ratio_by_rate": {
            str(int(f["offered_rate"])): _ratio(s["p99_ms"], f["p99_ms"])
            for f in floor_result["ramp"]
            for s in service_result["ramp"]
            if f["offered_rate"] == s["offered_rate"] and f["errors"] == s["errors"] == 0
        },
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


def table(result: dict[str, Any]) -> None:
    print(
        f"ingest on {result['database']} (worker {result['worker']}), "
        f"fixed offered rate {result['offered_rate']}/s"
    )
    rows = []
    for name in ("floor", "service"):
        r = result[name]
        f = r["fixed"]
        rows.append(
            (
                name,
                f["p50_ms"],
                f["p99_ms"],
                f["sustained_rate"],
                f["errors"],
                f["server_cpu_ms_per_event"],
                int(r["max_rate_p99_under_100ms"]),
            )
        )
    ratio = result["ratio"]
    rows.append(
        (
            "service ÷ floor",
            ratio["p50"],
            ratio["p99"],
            "",
            "",
            ratio["cpu_per_event"],
            ratio["max_rate"],
        )
    )
    print_table(
        ("", "p50 ms", "p99 ms", "events/s", "errors", "CPU ms/event", "max rate p99<100ms"), rows
    )
    print()
    print_table(
        ("offered/s", "floor p50", "floor p99", "floor /s", "svc p50", "svc p99", "svc /s"),
        _ramp_rows(result),
    )


def _ramp_rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    floor = {s["offered_rate"]: s for s in result["floor"]["ramp"]}
    svc = {s["offered_rate"]: s for s in result["service"]["ramp"]}
    rows = []
    for rate in sorted(set(floor) | set(svc)):
        cells: list[Any] = [int(rate)]
        for side in (floor, svc):
            s = side.get(rate)
            cells += [s["p50_ms"], s["p99_ms"], s["sustained_rate"]] if s else ["-", "-", "-"]
        rows.append(tuple(cells))
    return rows


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__, database=True)
    add_rate_options(parser, 1000, "the fixed offered rate", 5, "length of the fixed step")
    parser.add_argument("--step-seconds", type=float, default=3, help="length of each ramp step")
    parser.add_argument(
        "--ramp",
        type=lambda s: [float(x) for x in s.split(",")],
        default=list(RAMP),
        help="comma-separated rates to climb",
    )
    args = parser.parse_args(argv)
    result = run_and_emit(bench, args, table)
    # Errors past the saturation point are a finding; at the fixed rate they are a failure.
    fixed_errors = result["service"]["fixed"]["errors"] + result["floor"]["fixed"]["errors"]
    return 0 if fixed_errors == 0 else 1
