"""The assistant lane: replies wait on the LLM side by side, in order per conversation."""

from __future__ import annotations

import asyncio

from tests.support.db import Database
from tests.support.stack import eventually, worker_running
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.lanes import lanes
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.settings import Settings
from ticketbolt.bot.worker import Worker
from ticketbolt.handlers.deps import JobLike


def default_lanes() -> Settings:
    return Settings(_env_file=None)


async def test_replies_waiting_on_the_llm_fill_the_default_assistant_lane(
    database: Database,
) -> None:
    """With more customers than slots and every reply waiting on the LLM, the worker runs as
    many replies at once as the assistant lane has slots (at least 32), not a handful."""
    settings = default_lanes()
    queue = JobQueue(database.sessions)
    llm_answers = asyncio.Event()
    waiting: set[int] = set()
    most = 0
    answered: list[int] = []

    async def reply(job: JobLike) -> None:
        nonlocal most
        waiting.add(job.id)
        most = max(most, len(waiting))
        await llm_answers.wait()
        waiting.discard(job.id)
        answered.append(job.id)

    customers = settings.lane_assistant + 8
    for n in range(customers):
        await queue.enqueue("assistant_reply", {}, key=f"r{n}", order_key=f"conv:T:D{n}:dm")
    worker = Worker(
        queue,
        {"assistant_reply": reply},
        Metrics(),
        lanes=lanes(settings),
        poll_interval=0.05,
        grace_seconds=0,
        settle_seconds=0,
    )
    async with worker_running(worker):
        try:
            await eventually(
                lambda: len(waiting) == settings.lane_assistant, what="a full assistant lane"
            )
        finally:
            llm_answers.set()  # even after a failed wait: the worker then drains, not hangs
        await eventually(lambda: len(answered) == customers, what="every reply")
    assert settings.lane_assistant >= 32
    assert settings.lane_assistant == most
    assert customers == (await queue.stats())["by_state"]["done"]


async def test_a_conversations_replies_run_one_at_a_time_in_order_when_completed_together(
    database: Database,
) -> None:
    """Many conversations, three messages each, finishing in batches: each message is
    answered exactly once, and a conversation's messages in the order they arrived."""
    queue = JobQueue(database.sessions)
    ran: dict[str, list[int]] = {}
    running_now: dict[str, int] = {}
    overlapped: list[str] = []

    async def reply(job: JobLike) -> None:
        key = job.payload["conversation"]
        running_now[key] = running_now.get(key, 0) + 1
        if running_now[key] > 1:
            overlapped.append(key)
        await asyncio.sleep(0)  # the others of the batch finish meanwhile
        ran.setdefault(key, []).append(job.payload["n"])
        running_now[key] -= 1

    conversations = [f"T:D{c}:dm" for c in range(20)]
    for n in range(3):
        for conversation in conversations:
            await queue.enqueue(
                "assistant_reply",
                {"conversation": conversation, "n": n},
                key=f"{conversation}:{n}",
                order_key=f"conv:{conversation}",
            )
    worker = Worker(
        queue,
        {"assistant_reply": reply},
        Metrics(),
        lanes=lanes(default_lanes()),
        poll_interval=0.05,
        grace_seconds=0,
        settle_seconds=0,
    )

    async def all_done() -> bool:
        return 3 * len(conversations) == (await queue.stats())["by_state"]["done"]

    async with worker_running(worker):
        await eventually(all_done, what="every message answered and its job done")
    assert {conversation: [0, 1, 2] for conversation in conversations} == ran
    assert [] == overlapped
