"""Benchmark: the job queue under a backlog — claim time and worker CPU per job at 100, 10,000
and 100,000 queued jobs.

Each step fills the queue with jobs of a no-op kind (two per message, so half wait behind their
message's first job, as a resolve waits for its create), inserted in bulk with the head marker
`JobQueue.enqueue` would set. It then times one lane's claim of `--limit` jobs (median of
repeats; the claimed jobs are released again, so the backlog stays the same), and lets the real
`Worker` run `--drain` jobs off that backlog with a trivial handler: jobs/s and process CPU per
job (claim, run, complete, hand the head on). On PostgreSQL the CPU is this process's only (the
server's is not counted).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert

from ticketbolt.bench.harness import add_database_option, base_parser, emit, fresh_database
from ticketbolt.bench.harness import print_table as table_rows
from ticketbolt.bench.stats import log, machine
from ticketbolt.bot.db.engine import make_engine, sessionmaker
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.db.models import Job
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.worker import Lane, Worker
from ticketbolt.handlers.deps import JobLike

KIND = "bench_noop"
BATCH = 20_000


async def fill(sessions: Any, count: int) -> None:
    """`count` due jobs of the no-op kind, two per message; the first of each is its head."""
    now = datetime.now(UTC)
    for first in range(0, count, BATCH):
        rows = [
            {
                "kind": KIND,
                "payload": {},
                "idempotency_key": f"bench-{n}",
                "order_key": f"T:C:{n // 2}",
                "state": "queued",
                "head": n % 2 == 0,
                "max_attempts": 15,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(first, min(count, first + BATCH))
        ]
        async with sessions.begin() as session:
            await session.execute(insert(Job), rows)


async def claim_ms(queue: JobQueue, limit: int, repeats: int) -> float:
    """Median milliseconds of a lane's claim; each claim's jobs go back to the queue."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        jobs = await queue.claim("bench", limit, kinds={KIND})
        samples.append((time.perf_counter() - started) * 1000)
        for job in jobs:
            await queue.release(job, "bench")
    return round(statistics.median(samples), 3)


async def drain(queue: JobQueue, count: int, slots: int) -> dict[str, float]:
    """Run the real worker until `count` jobs of the backlog ran."""
    done = asyncio.Event()
    ran = 0

    async def noop(job: JobLike) -> None:
        nonlocal ran
        ran += 1
        if ran >= count:
            done.set()

    worker = Worker(queue, {KIND: noop}, Metrics(), lanes=[Lane("bench", slots, frozenset({KIND}))])
    stop = asyncio.Event()
    cpu, wall = time.process_time(), time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    await done.wait()
    stop.set()
    await running
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "jobs_run": count,
        "jobs_per_second": round(count / wall, 1),
        "cpu_ms_per_job": round(cpu * 1000 / count, 3),
    }


async def bench(args: Any) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    async with fresh_database(args.database_url) as url:
        engine = make_engine(url)
        try:
            await upgrade(engine)
            sessions = sessionmaker(engine)
            queue = JobQueue(sessions)
            for size in args.sizes:
                log(f"{size:,} queued jobs")
                async with sessions.begin() as session:
                    await session.execute(delete(Job))
                await fill(sessions, size)
                claimed = await claim_ms(queue, args.limit, args.repeats)
                ran = await drain(queue, min(size, args.drain), args.slots)
                steps.append({"queued": size, "claim_ms": claimed, **ran})
                counts = (await queue.stats(count_done=True))["by_state"]
                steps[-1]["done"] = counts["done"]
                steps[-1]["failed"] = counts["failed"]
        finally:
            await engine.dispose()
    return {
        "benchmark": "worker",
        "database": "postgresql" if args.database_url else "sqlite",
        "steps": steps,
        "settings": {
            "claim_limit": args.limit,
            "lane_slots": args.slots,
            "repeats": args.repeats,
            "drained_per_step": args.drain,
        },
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> None:
    settings = result["settings"]
    print(
        f"worker benchmark on {result['database']}: claims of {settings['claim_limit']}, "
        f"one lane of {settings['lane_slots']} slots, median of {settings['repeats']}; "
        f"the worker runs up to {settings['drained_per_step']:,} jobs per step (no more than "
        "are queued)\n"
    )
    table_rows(
        ("queued jobs", "claim (ms)", "jobs run", "drain (jobs/s)", "CPU per job (ms)"),
        [
            (
                f"{s['queued']:,}",
                s["claim_ms"],
                f"{s['jobs_run']:,}",
                s["jobs_per_second"],
                s["cpu_ms_per_job"],
            )
            for s in result["steps"]
        ],
    )


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__)
    add_database_option(parser)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 10_000, 100_000], help="queued jobs per step"
    )
    parser.add_argument("--limit", type=int, default=16, help="jobs per claim (a lane's slots)")
    parser.add_argument("--slots", type=int, default=16, help="the worker lane's slots")
    parser.add_argument("--repeats", type=int, default=15, help="timed claims per step")
    parser.add_argument("--drain", type=int, default=2_000, help="jobs the worker runs per step")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.drain = [20, 200], 3, 50
    result = asyncio.run(bench(args))
    emit(result, args.json, table)
    return 0
