"""Benchmark: the cost of a `/metrics` scrape as done jobs pile up, and retention clearing them.

A scrape refreshes the queue gauges with `JobQueue.stats(count_done=False)`: unfinished jobs only,
through the claim index. Beside it, the full count by state (what every scrape ran before) shows
what it would cost. Both are timed (median of repeats) with 100 and with N done jobs on top of a
small live backlog; then `Retention.purge` removes the done jobs older than the window, in
batches.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from ticketbolt.bench.harness import add_database_option, base_parser, emit, fresh_database
from ticketbolt.bench.harness import print_table as table_rows
from ticketbolt.bench.stats import log, machine
from ticketbolt.bot.db.engine import make_engine, sessionmaker
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.db.models import Job
from ticketbolt.bot.db.retention import Retention, RetentionPolicy

BATCH = 20_000


async def add_done_jobs(sessions: Any, start: int, count: int, at: datetime) -> None:
    """`count` done jobs finished at `at`, inserted in large batches."""
    for first in range(start, start + count, BATCH):
        rows = [
            {
                "kind": "create_ticket",
                "payload": {},
                "idempotency_key": f"done-{n}",
                "order_key": f"T:C:{n}",
                "state": "done",
                "attempts": 1,
                "max_attempts": 15,
                "next_attempt_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for n in range(first, min(start + count, first + BATCH))
        ]
        async with sessions.begin() as session:
            await session.execute(insert(Job), rows)


async def timed(call: Any, repeats: int) -> float:
    """Median milliseconds of `repeats` calls."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


async def bench(args: Any) -> dict[str, Any]:
    async with fresh_database(args.database_url) as url:
        engine = make_engine(url)
        try:
            await upgrade(engine)
            sessions = sessionmaker(engine)
            queue = JobQueue(sessions)
            for n in range(20):  # a small live backlog
                await queue.enqueue("create_ticket", {}, key=f"live-{n}")
            old = datetime.now(UTC) - timedelta(days=40)
            steps: list[dict[str, Any]] = []
            present = 0
            for done in (100, args.done):
                log(f"{done:,} done jobs")
                await add_done_jobs(sessions, present, done - present, old)
                present = done
                steps.append(
                    {
                        "done_jobs": done,
                        "scrape_ms": await timed(
                            lambda: queue.stats(count_done=False), args.repeats
                        ),
                        "full_count_ms": await timed(queue.stats, args.repeats),
                    }
                )
            log("retention purge")
            started = time.perf_counter()
            removed = await Retention(sessions, RetentionPolicy(days=30)).purge()
            purge_seconds = round(time.perf_counter() - started, 2)
            after = await timed(lambda: queue.stats(count_done=False), args.repeats)
        finally:
            await engine.dispose()
    return {
        "backend": "postgresql" if args.database_url else "sqlite",
        "steps": steps,
        "purge": {"removed": removed, "seconds": purge_seconds, "scrape_ms_after": after},
        "settings": {"repeats": args.repeats, "batch": RetentionPolicy().batch},
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> None:
    table_rows(
        ("done jobs", "scrape (ms)", "full count (ms)"),
        [(f"{s['done_jobs']:,}", s["scrape_ms"], s["full_count_ms"]) for s in result["steps"]],
    )
    purge = result["purge"]
    print(
        f"\nretention purged {purge['removed']['jobs']:,} done jobs in {purge['seconds']} s; "
        f"scrape afterwards {purge['scrape_ms_after']} ms ({result['backend']})"
    )


def main(argv: Sequence[str]) -> int:
    parser = base_parser(__doc__)
    add_database_option(parser)
    parser.add_argument("--done", type=int, default=1_000_000, help="done jobs at the top step")
    parser.add_argument("--repeats", type=int, default=15, help="timed scrapes per step")
    args = parser.parse_args(argv)
    if args.quick:
        args.done, args.repeats = 2_000, 3
    result = asyncio.run(bench(args))
    emit(result, args.json, table)
    return 0
