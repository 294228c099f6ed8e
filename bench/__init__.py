"""`ticketbolt bench <name> [options]`: self-contained loopback benchmarks (docs/performance.md)."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Sequence

BENCHMARKS = {
    "ingest": (
        "ticketbolt.bench.ingest",
        "ack latency and events/s, service versus a bare Bolt floor",
    ),
    "ack": (
        "ticketbolt.bench.ack",
        "ack latency with the worker off, in the server's process, and in a child process",
    ),
    "e2e": (
        "ticketbolt.bench.e2e",
        "reactions to Gorgias tickets: tickets/s, calls per ticket, 429s; "
        "--slack-limits real: a burst under Slack's tiers against the binding limit",
    ),
    "intents": (
        "ticketbolt.bench.intents",
        "offline classifier accuracy and speed, LLM path latency",
    ),
    "loadtest": (
        "ticketbolt.bench.loadtest",
        "customers chatting with the assistant at rising concurrency",
    ),
    "memory": (
        "ticketbolt.bench.memory",
        "start-up time, RSS idle and after an ingest run, RSS by classifier tier",
    ),
    "gorgias_pool": ("ticketbolt.bench.gorgias_pool", "pooled versus one-off Gorgias connections"),
    "worker": (
        "ticketbolt.bench.worker",
        "job queue claim time and CPU per job at 100, 10,000 and 100,000 queued jobs",
    ),
    "retention": (
        "ticketbolt.bench.retention",
        "/metrics scrape cost with 100 versus 1,000,000 done jobs; retention purge",
    ),
}


def usage() -> str:
    lines = ["usage: ticketbolt bench <name> [--quick] [--json] [options]", "", "benchmarks:"]
    lines += [f"  {name:<13} {what}" for name, (_, what) in BENCHMARKS.items()]
    lines.append("\n`ticketbolt bench <name> --help` lists a benchmark's options.")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark `argv[0]` with the remaining arguments; its exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], list(argv[1:])
    if name not in BENCHMARKS:
        print(f"ticketbolt bench: unknown benchmark {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[name][0])
    if inspect.signature(module.main).parameters:
        return int(module.main(rest) or 0)
    # Scripts whose main() parses sys.argv itself get the arguments the usual way.
    saved = sys.argv
    sys.argv = [f"ticketbolt bench {name}", *rest]
    try:
        return int(module.main() or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
