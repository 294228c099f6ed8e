"""Crashes and replicas: the service as real processes sharing one database (and one Redis)."""

from __future__ import annotations

import asyncio
import random
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, require_service
from tests.support.process import ServerProcess, fresh_postgres_database, process_env
from tests.support.stack import emulators, eventually
from ticketbolt.bot.db.engine import make_engine, sessionmaker
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator


def seed(slack: SlackEmulator, messages: int) -> tuple[str, str, list[str]]:
    state = slack.state
    customer = state.add_user("casey", email="casey@shop.example")
    agent = state.add_user("alex")
    channel = state.add_channel("support", members=[customer.id, agent.id, slack.bot_user.id])
    ts = [state.post(channel, customer, f"Problem number {i}").ts for i in range(messages)]
    return agent.id, channel.id, ts


def reaction(slack: SlackEmulator, agent: str, channel: str, ts: str, event_id: str) -> dict:  # type: ignore[type-arg]
    return slack.make_event_envelope(
        {
            "type": "reaction_added",
            "user": agent,
            "reaction": "ticket",
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": ts,
        },
        event_id=event_id,
    )


async def test_kill_9_while_jobs_are_in_flight_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """SIGKILL mid-queue, then a restart: every message ends with exactly one ticket."""
    async with emulators() as (slack, gorgias):
        gorgias.faults.latency_ms = 50  # keep jobs in flight when the kill lands
        agent, channel, stamps = seed(slack, 40)
        db = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
        server = ServerProcess(process_env(slack, gorgias, db), tmp_path / "server.log")
        try:
            await _crash_and_recover(slack, gorgias, server, agent, channel, stamps)
        finally:
            await server.close()
    external_ids = [t["external_id"] for t in gorgias.tickets.values()]
    assert len(set(external_ids)) == len(external_ids) == 40


async def _crash_and_recover(
    slack: SlackEmulator,
    gorgias: GorgiasEmulator,
    server: ServerProcess,
    agent: str,
    channel: str,
    stamps: list[str],
) -> None:
    await server.start()
    slack.events_url = f"{server.url}/slack/events"
    results = await asyncio.gather(
        *(
            slack.deliver(reaction(slack, agent, channel, ts, f"Ev{i}"))
            for i, ts in enumerate(stamps)
        )
    )
    assert {200} == {r.status for r in results}
    await eventually(lambda: len(gorgias.tickets) >= 3, what="some tickets before the kill")
    server.kill()
    assert -9 == await server.wait()
    in_flight = len(gorgias.tickets)
    assert in_flight < 40
    await server.start()
    await eventually(lambda: len(gorgias.tickets) == 40, timeout=60, what="all 40 tickets")
    server.kill(15)
    assert 0 == await server.wait()


async def test_two_replicas_on_one_postgres_and_redis_make_one_ticket_per_message(
    tmp_path: Path, unique: str, redis_url: str
) -> None:
    """Interleaved events for the same messages through two server processes: one ticket each."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    async with (
        emulators() as (slack, gorgias),
        fresh_postgres_database(POSTGRES_URL, f"replicas_{unique}") as db,
    ):
        agent, channel, stamps = seed(slack, 30)
        extra = {"REDIS_URL": redis_url}
        servers = [
            ServerProcess(process_env(slack, gorgias, db, **extra), tmp_path / f"s{i}.log")
            for i in range(2)
        ]
        try:
            codes = await _interleave(slack, gorgias, servers, agent, channel, stamps)
        finally:
            for server in servers:
                await server.close()
    assert [0, 0] == codes
    assert 30 == len(gorgias.tickets)


async def _interleave(
    slack: SlackEmulator,
    gorgias: GorgiasEmulator,
    servers: list[ServerProcess],
    agent: str,
    channel: str,
    stamps: list[str],
) -> list[int]:
    await asyncio.gather(*(s.start() for s in servers))
    deliveries = []
    for i, ts in enumerate(stamps):
        for copy in range(4):  # two agents, each delivery retried once
            target = servers[random.randrange(2)]
            envelope = reaction(slack, agent, channel, ts, f"Ev{i}-{copy % 2}")
            deliveries.append((target.url, envelope))
    random.shuffle(deliveries)

    async def send(url: str, envelope: dict) -> int:  # type: ignore[type-arg]
        slack.events_url = f"{url}/slack/events"
        return (await slack.deliver(envelope)).status

    statuses = await asyncio.gather(*(send(u, e) for u, e in deliveries))
    assert {200} == set(statuses)
    await eventually(lambda: len(gorgias.tickets) == 30, timeout=60, what="30 tickets")
    # Count only once no job is left to run anywhere: a duplicate would have to come from one.
    engine = make_engine(servers[0].env["DATABASE_URL"])
    queue = JobQueue(sessionmaker(engine))

    async def settled() -> bool:
        states = (await queue.stats())["by_state"]
        return states["queued"] + states["running"] == 0

    try:
        await eventually(settled, timeout=60, what="both replicas' queues to settle")
    finally:
        await engine.dispose()
    for server in servers:
        server.kill(15)
    return [await s.wait() for s in servers]


def _thread_replies(slack: SlackEmulator, channel: str, ts: str) -> list[str]:
    messages = slack.state.channels[channel].messages.values()
    return [m.text for m in messages if m.thread_ts == ts and m.ts != ts]


def _creates_in_flight(gorgias: GorgiasEmulator) -> int:
    return sum(
        1
        for r in gorgias.requests
        if (r.method, r.path) == ("POST", "/api/tickets") and r.status is None
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_deploy_during_a_slow_create_makes_one_ticket_and_one_reply(
    tmp_path: Path, unique: str, backend: str
) -> None:
    """SIGTERM while every create waits on a Gorgias slower than the shutdown grace, then a
    restart: the released jobs look their tickets up instead of creating them again, and each
    message gets exactly one ticket and one thread reply."""
    async with AsyncExitStack() as stack:
        slack, gorgias = await stack.enter_async_context(emulators())
        if backend == "postgresql":
            require_service("PostgreSQL", "127.0.0.1", 5432)
            db = await stack.enter_async_context(
                fresh_postgres_database(POSTGRES_URL, f"deploy_{unique}")
            )
        else:
            db = f"sqlite+aiosqlite:///{tmp_path / 'deploy.db'}"
        agent, channel, stamps = seed(slack, 4)
        # Gorgias answers after 8 s; the grace is 0.5 s, so the deploy interrupts every create,
        # and the settle time outlasts what is left of the 8 s.
        gorgias.faults.latency_ms = 8000
        env = process_env(
            slack,
            gorgias,
            db,
            TICKETBOLT_SHUTDOWN_GRACE="0.5",
            TICKETBOLT_UPSTREAM_SETTLE_SECONDS="9",
        )
        server = ServerProcess(env, tmp_path / "server.log")
        stack.push_async_callback(server.close)
        await server.start()
        slack.events_url = f"{server.url}/slack/events"
        for i, ts in enumerate(stamps):
            assert (
                200 == (await slack.deliver(reaction(slack, agent, channel, ts, f"Ev{i}"))).status
            )
        await eventually(
            lambda: _creates_in_flight(gorgias) == 4, timeout=30, what="four creates in flight"
        )
        server.kill(signal.SIGTERM)
        assert 0 == await server.wait()
        # The four creates were in flight when the deploy came: whatever Gorgias does with them
        # after we stopped listening, the released jobs must not add a second ticket.
        gorgias.faults.latency_ms = 0  # the creates in flight still take their 8 s
        await server.start()  # the deploy's new process, same database
        await eventually(
            lambda: all(len(_thread_replies(slack, channel, ts)) >= 1 for ts in stamps),
            timeout=60,
            what="a thread reply on every message",
        )
        queue_settled = await _queue_settled(db)
        server.kill(signal.SIGTERM)
        assert 0 == await server.wait()
    external_ids = sorted(t["external_id"] for t in gorgias.tickets.values())
    assert sorted(f"slack:{slack.state.team_id}:{channel}:{ts}" for ts in stamps) == external_ids
    assert [1, 1, 1, 1] == [len(_thread_replies(slack, channel, ts)) for ts in stamps], [
        _thread_replies(slack, channel, ts) for ts in stamps
    ]
    assert queue_settled


async def _queue_settled(database_url: str) -> bool:
    engine = make_engine(database_url)
    queue = JobQueue(sessionmaker(engine))

    async def settled() -> bool:
        states = (await queue.stats())["by_state"]
        return states["queued"] + states["running"] == 0

    try:
        await eventually(settled, timeout=60, what="the queue to settle")
        return True
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_kill_9_during_thread_posts_leaves_one_reply_per_message(
    tmp_path: Path, unique: str, backend: str
) -> None:
    """SIGKILL while every thread reply is on its way to a slow Slack, then a restart: the
    retried jobs find the replies the dead process sent and do not post them again."""
    async with AsyncExitStack() as stack:
        slack, gorgias = await stack.enter_async_context(emulators())
        if backend == "postgresql":
            require_service("PostgreSQL", "127.0.0.1", 5432)
            db = await stack.enter_async_context(
                fresh_postgres_database(POSTGRES_URL, f"posts_{unique}")
            )
        else:
            db = f"sqlite+aiosqlite:///{tmp_path / 'posts.db'}"
        agent, channel, stamps = seed(slack, 3)
        slack.faults.latency("chat.postMessage", ms=2000)
        # Leases outlive Slack's answer, as in production (60 s against a 15 s client timeout).
        env = process_env(slack, gorgias, db, TICKETBOLT_JOB_LEASE_SECONDS="4")
        server = ServerProcess(env, tmp_path / "server.log")
        stack.push_async_callback(server.close)
        await server.start()
        slack.events_url = f"{server.url}/slack/events"
        for i, ts in enumerate(stamps):
            delivery = await slack.deliver(reaction(slack, agent, channel, ts, f"Ev{i}"))
            assert 200 == delivery.status
        await eventually(
            lambda: len(slack.calls_to("chat.postMessage")) == 3, what="three posts sent"
        )
        server.kill()
        assert -9 == await server.wait()
        await server.start()
        await eventually(
            lambda: all(len(_thread_replies(slack, channel, ts)) >= 1 for ts in stamps),
            timeout=60,
            what="a thread reply on every message",
        )
        assert await _queue_settled(db)
        server.kill(signal.SIGTERM)
        assert 0 == await server.wait()
    assert [1, 1, 1] == [len(_thread_replies(slack, channel, ts)) for ts in stamps]
    assert 3 == len(gorgias.tickets)
