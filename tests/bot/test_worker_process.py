"""`ticketbolt run` with its worker in a supervised child process (bot/supervisor.py), as real
processes on PostgreSQL and Redis: the child does the ticket work, is woken without polling,
is restarted when it dies, and dies with its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, require_service
from tests.handlers.test_processes import reaction, seed
from tests.support.process import ServerProcess, fresh_postgres_database, process_env
from tests.support.stack import emulators, eventually
from ticketbolt.bot.settings import Settings
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").exists(), reason="reads child processes from Linux's /proc"
)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(part) for part in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


async def on_postgres(
    stack: AsyncExitStack, name: str
) -> tuple[SlackEmulator, GorgiasEmulator, str]:
    """The emulators and a new PostgreSQL database called `name`, all closed with `stack`."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    slack, gorgias = await stack.enter_async_context(emulators())
    db = await stack.enter_async_context(fresh_postgres_database(POSTGRES_URL, name))
    return slack, gorgias, db


async def started(
    stack: AsyncExitStack, env: dict[str, str], tmp_path: Path
) -> tuple[ServerProcess, int]:
    """`ticketbolt run` started with `env` and closed with `stack`: the server and its pid."""
    server = ServerProcess(env, tmp_path / "server.log")
    stack.push_async_callback(server.close)
    await server.start()
    assert server.proc is not None
    return server, server.proc.pid


async def one_child(parent: int) -> int:
    """The pid of the one worker child `parent` starts, once it has."""
    await eventually(lambda: len(children(parent)) == 1, what="one worker child")
    [child] = children(parent)
    return child


async def test_the_child_worker_makes_the_tickets_restarts_and_dies_with_its_parent(
    tmp_path: Path, unique: str, redis_url: str
) -> None:
    async with AsyncExitStack() as stack:
        slack, gorgias, db = await on_postgres(stack, f"child_{unique}")
        agent, channel, stamps = seed(slack, 5)
        # An hour between polls: only the parent's wake-ups can bring the child to new jobs.
        env = process_env(
            slack, gorgias, db, REDIS_URL=redis_url, TICKETBOLT_JOB_POLL_INTERVAL="3600"
        )
        server, parent = await started(stack, env, tmp_path)
        first = await one_child(parent)
        slack.events_url = f"{server.url}/slack/events"

        async def ticket(i: int) -> None:
            envelope = reaction(slack, agent, channel, stamps[i], f"Ev{i}")
            assert 200 == (await slack.deliver(envelope)).status

        for i in range(3):
            await ticket(i)
        await eventually(lambda: len(gorgias.tickets) == 3, timeout=30, what="three tickets")

        os.kill(first, signal.SIGKILL)  # the worker dies; the server starts another
        await eventually(
            lambda: [c for c in children(parent) if c != first and alive(c)],
            timeout=30,
            what="a new worker child",
        )
        [second] = [c for c in children(parent) if alive(c)]
        for i in range(3, 5):
            await ticket(i)
        await eventually(lambda: len(gorgias.tickets) == 5, timeout=30, what="five tickets")

        server.kill(signal.SIGKILL)  # the parent dies without a word: its child follows
        assert -9 == await server.wait()
        await eventually(lambda: not alive(second), timeout=30, what="the orphaned child to stop")
    external_ids = [t["external_id"] for t in gorgias.tickets.values()]
    assert len(set(external_ids)) == len(external_ids) == 5


async def test_sigterm_stops_the_server_and_its_child_cleanly(
    tmp_path: Path, unique: str, redis_url: str
) -> None:
    async with AsyncExitStack() as stack:
        slack, gorgias, db = await on_postgres(stack, f"childterm_{unique}")
        env = process_env(slack, gorgias, db, REDIS_URL=redis_url, TICKETBOLT_WORKER_NICE="10")
        server, parent = await started(stack, env, tmp_path)
        child = await one_child(parent)
        # Ticket work yields the core to acknowledgements (TICKETBOLT_WORKER_NICE).
        await eventually(
            lambda: (
                os.getpriority(os.PRIO_PROCESS, child)
                == os.getpriority(os.PRIO_PROCESS, parent) + 10
            ),
            timeout=60,
            what="the child at a lower priority",
        )
        server.kill(signal.SIGTERM)
        assert 0 == await server.wait()
        assert not alive(child)


@pytest.mark.parametrize(
    ("mode", "database", "redis", "in_child"),
    [
        ("auto", "postgresql+asyncpg://u@h/db", "redis://h", True),
        ("auto", "postgresql+asyncpg://u@h/db", None, False),
        ("auto", "sqlite+aiosqlite:///x.db", "redis://h", False),
        ("inline", "postgresql+asyncpg://u@h/db", "redis://h", False),
        ("process", "sqlite+aiosqlite:///x.db", "redis://h", True),
    ],
)
def test_where_the_worker_runs(mode: str, database: str, redis: str | None, in_child: bool) -> None:
    settings = Settings(
        TICKETBOLT_WORKER_PROCESS=mode, DATABASE_URL=database, REDIS_URL=redis, _env_file=None
    )
    assert in_child == settings.worker_in_child


def test_a_child_process_without_redis_is_refused_naming_both_settings() -> None:
    settings = Settings(TICKETBOLT_WORKER_PROCESS="process", _env_file=None)
    problems = dict(settings.problems())
    assert "REDIS_URL" in problems["TICKETBOLT_WORKER_PROCESS"]


def test_the_child_runs_this_interpreter_with_its_own_operations_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ticketbolt.bot.supervisor import child_command, child_environment

    assert child_command()[1:] == ["-m", "ticketbolt", "worker", "--supervised"]
    monkeypatch.setenv("TICKETBOLT_METRICS_PORT", "9100")  # the parent's: not the child's too
    assert "TICKETBOLT_METRICS_PORT" not in child_environment(None)
    assert "9101" == child_environment(9101)["TICKETBOLT_METRICS_PORT"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_with_the_worker_off_the_server_only_records_and_a_separate_worker_tickets(
    tmp_path: Path, unique: str, backend: str
) -> None:
    """TICKETBOLT_WORKER_PROCESS=off (web replicas beside worker replicas): the server acks and
    records the jobs; `ticketbolt worker`, another process, makes the tickets. On PostgreSQL its
    poll is an hour away, so only the NOTIFY in the enqueue's transaction can wake it."""
    async with AsyncExitStack() as stack:
        slack, gorgias = await stack.enter_async_context(emulators())
        extra = {"TICKETBOLT_WORKER_PROCESS": "off"}
        if backend == "postgresql":
            require_service("PostgreSQL", "127.0.0.1", 5432)
            db = await stack.enter_async_context(
                fresh_postgres_database(POSTGRES_URL, f"off_{unique}")
            )
            extra["TICKETBOLT_JOB_POLL_INTERVAL"] = "3600"
        else:
            db = f"sqlite+aiosqlite:///{tmp_path / 'off.db'}"
        agent, channel, stamps = seed(slack, 4)
        server, pid = await started(stack, process_env(slack, gorgias, db, **extra), tmp_path)
        assert [] == children(pid)
        slack.events_url = f"{server.url}/slack/events"

        async def ticket(i: int) -> None:
            envelope = reaction(slack, agent, channel, stamps[i], f"Ev{i}")
            assert 200 == (await slack.deliver(envelope)).status

        await ticket(0)
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ticketbolt",
            "worker",
            env=server.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await eventually(lambda: len(gorgias.tickets) == 1, timeout=30, what="one ticket")
            for i in range(1, 4):  # recorded while the worker idles
                await ticket(i)
            await eventually(lambda: len(gorgias.tickets) == 4, timeout=30, what="four tickets")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert 0 == await worker.wait()
