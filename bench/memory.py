"""Benchmark: start-up time to `/readyz` = 200, RSS idle and at the end of an ingest run, and RSS
by classifier tier.

Start-up is timed from spawning `python -m ticketbolt run` (interpreter, imports, the offline intent
model, migrations, first health checks) until `/readyz` answers 200, over several starts. RSS
(VmRSS, and the peak VmHWM) comes from /proc: idle two seconds after the last start, then at the
end of signed 🎫 reactions offered at a fixed rate by `ticketbolt.bench.loadgen` to that same
process, whose worker turns them into tickets (the messages are seeded in the Slack emulator).

RSS by tier: the service idle with tier 2 off (`TICKETBOLT_ENCODER_MODEL=off`: the tier-1
classifier alone) beside the defaults, and a fresh process (`bench/tiers_probe.py`) read after
the interpreter, after the service's imports, after loading the tier-1 encoder, and after
building the assistant either way.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

import aiohttp

from ticketbolt.bench.harness import (
    ROOT,
    Child,
    add_rate_options,
    base_parser,
    changed_settings,
    emulators,
    loadgen_spec,
    print_settings,
    print_table,
    run_and_emit,
    run_loadgen,
    service_env,
)
from ticketbolt.bench.stats import log, machine, rss_mb
from ticketbolt.integrations.slack.emulator import SlackEmulator


async def readiness(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as answer:
        body: dict[str, Any] = await answer.json()
        return body


def seed(slack: SlackEmulator, count: int) -> dict[str, Any]:
    """`count` customer messages for the worker to ticket; the loadgen fields that name them."""
    agent = slack.add_user("agent", real_name="Ada Agent", email="ada@example.com")
    customer = slack.add_user("customer", real_name="Cas Customer", email="cas@example.com")
    channel = slack.add_channel("support", members=[agent, customer])
    stamps = [
        int(slack.state.post(channel, customer, f"Order #{n} is late").ts.replace(".", ""))
        for n in range(count)
    ]
    step = stamps[1] - stamps[0] if count > 1 else 1
    assert stamps == list(range(stamps[0], stamps[0] + step * count, step)), "evenly spaced ts"
    return {"channel": channel.id, "user": agent.id, "ts_start_us": stamps[0], "ts_step_us": step}


async def probe(mode: str) -> dict[str, Any]:
    """`bench/tiers_probe.py` in a fresh process: RSS after each step of loading the assistant."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ticketbolt.bench.tiers_probe",
        mode,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    if proc.returncode != 0:
        raise RuntimeError(f"tiers probe {mode} failed with exit code {proc.returncode}")
    answer: dict[str, Any] = json.loads(out)
    return answer


async def idle_tier1(env: dict[str, str], settle: float) -> dict[str, float]:
    """The service idle with tier 2 off: the tier-1 classifier alone."""
    async with Child(["-m", "ticketbolt", "run"], {**env, **TIER1_ONLY}) as service:
        await asyncio.sleep(settle)
        return rss_mb(service.pid)


TIER1_ONLY = {"TICKETBOLT_ENCODER_MODEL": "off"}


async def bench(args: Any) -> dict[str, Any]:
    events = max(1, int(args.rate * args.seconds))
    # A fixed clock makes message timestamps evenly spaced, so the loadgen can name them.
    async with emulators(args.database_url, fixed_clock=True) as (slack, gorgias, database_url):
        messages = seed(slack, events)
        env = service_env(slack.api_url, gorgias.base_url, database_url)
        startups: list[float] = []
        for attempt in range(args.starts):
            async with Child(["-m", "ticketbolt", "run"], env) as service:
                startups.append(service.startup_seconds)
                log(f"start {attempt + 1}: ready in {service.startup_seconds:.2f} s")
                if attempt < args.starts - 1:
                    continue
                slack.events_url = f"{service.url}/slack/events"
                dependencies = (await readiness(service.url))["dependencies"]
                await asyncio.sleep(args.settle)
                idle = rss_mb(service.pid)
                log(f"ingest run: {args.rate:.0f}/s for {args.seconds:.0f} s, worker on")
                steps = [{"rate": args.rate, "seconds": args.seconds, "role": "fixed"}]
                spec = loadgen_spec(service, slack, "mem", steps, **messages)
                step = (await run_loadgen(spec))["steps"][0]
                after = rss_mb(service.pid)
                tickets = len(gorgias.tickets)
                slack.events_url = None
        log("idle with tier 2 off; fresh-process steps")
        tier1_idle = await idle_tier1(env, args.settle)
        probes = [await probe("tier1"), await probe("default")]
    return {
        "benchmark": "memory",
        "machine": machine(),
        "database": database_url.split("+", 1)[0],
        "startup_seconds": {
            "median": round(statistics.median(startups), 3),
            "max": round(max(startups), 3),
            "runs": [round(s, 3) for s in startups],
        },
        "idle": idle,
        "settings": changed_settings(env),
        "tiers": {
            "service_idle_tier1_only": tier1_idle,
            "service_idle_defaults": idle,
            "tier1_only_setting": TIER1_ONLY,
            "probes": probes,
        },
        "ready_dependencies": {d.get("name", "?"): d.get("ok") for d in dependencies},
        "ingest": {
            "offered_rate": args.rate,
            "events_sent": step["sent"],
            "events_ok": step["ok"],
            "errors": step["errors"],
            "p99_ms": step["p99_ms"],
            "tickets_by_then": tickets,
            "end_rss_mb": after["rss_mb"],
            "peak_rss_mb": after["peak_rss_mb"],
            "growth_mb": round(after["rss_mb"] - idle["rss_mb"], 1),
        },
    }


def table(result: dict[str, Any]) -> None:
    s, idle, ingest = result["startup_seconds"], result["idle"], result["ingest"]
    print(f"memory and start-up on {result['database']}")
    print_table(
        ("figure", "value"),
        [
            ("start-up to /readyz 200, median (s)", s["median"]),
            ("start-up, slowest of runs (s)", f"{s['max']} of {len(s['runs'])}"),
            ("RSS idle (MB)", idle["rss_mb"]),
            (
                f"RSS after {ingest['events_ok']} events at {ingest['offered_rate']:.0f}/s (MB)",
                ingest["end_rss_mb"],
            ),
            ("peak RSS (MB)", ingest["peak_rss_mb"]),
        ],
    )
    tiers = result["tiers"]
    print("\nRSS by tier (MB)")
    rows = [
        (
            "service idle, tier 1 only (TICKETBOLT_ENCODER_MODEL=off)",
            tiers["service_idle_tier1_only"]["rss_mb"],
        ),
        ("service idle, defaults", tiers["service_idle_defaults"]["rss_mb"]),
    ]
    for run in tiers["probes"]:
        for step in run["steps"]:
            heavy = ", ".join(step["heavy_modules"]) or "-"
            rows.append(
                (f"fresh process [{run['mode']}]: {step['step']} ({heavy})", step["rss_mb"])
            )
    print_table(("", "RSS"), rows)
    print_settings(result["settings"])


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__, database=True)
    parser.add_argument("--starts", type=int, default=3, help="start-ups to time")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds idle after start-up before reading RSS"
    )
    add_rate_options(parser, 50, "offered events/s under load", 20, "length of the ingest run")
    args = parser.parse_args(argv)
    if args.quick:
        args.starts, args.rate, args.seconds, args.settle = 1, 100, 1, 0.5
    result = run_and_emit(bench, args, table)
    return 0 if result["ingest"]["errors"] == 0 else 1
