"""Shared benchmark plumbing: child processes, databases, latency summaries and output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import text

from ticketbolt.bench.stats import free_port
from ticketbolt.bot.db.engine import make_engine
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

if TYPE_CHECKING:
    from ticketbolt.integrations.slack.emulator.state import Channel, User

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 - a fake shared with the emulators only
BOT_TOKEN = "xoxb-bench-bot-token"  # noqa: S105
ADMIN_TOKEN = "bench-admin-token"  # noqa: S105
GORGIAS_USERNAME, GORGIAS_KEY = "api@example.com", "emulator-key"
FIXED_CLOCK_START = 1_700_000_000.0


def base_parser(description: str | None, *, database: bool = False) -> argparse.ArgumentParser:
    """--json and --quick; with `database`, also --database-url."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="a tiny run that takes seconds")
    if database:
        add_database_option(parser)
    return parser


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="a postgresql+asyncpg:// URL: a fresh database is created on that server and "
        "dropped afterwards (default: a temporary SQLite file)",
    )


def add_rate_options(
    parser: argparse.ArgumentParser, rate: float, rate_help: str, seconds: float, seconds_help: str
) -> None:
    """--rate (offered events per second) and --seconds (how long), with these defaults."""
    parser.add_argument("--rate", type=float, default=rate, help=rate_help)
    parser.add_argument("--seconds", type=float, default=seconds, help=seconds_help)


def add_settings_option(parser: argparse.ArgumentParser, example: str) -> None:
    """--set NAME=VALUE, repeatable, into `args.settings`; read them with `overrides`."""
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a service setting to override, e.g. {example}",
    )


def overrides(settings: Sequence[str]) -> dict[str, str]:
    """`--set NAME=VALUE` options as settings."""
    pairs = (setting.partition("=") for setting in settings)
    return {name.strip(): value.strip() for name, _, value in pairs}


def print_settings(settings: dict[str, tuple[str, str]]) -> None:
    """What `changed_settings` found, one line each."""
    print("settings changed from the defaults:")
    for name, (value, default) in settings.items():
        print(f"  {name}={value} (default {default})")


def emit(result: dict[str, Any], as_json: bool, table: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        table(result)


def run_and_emit(
    bench: Callable[[Any], Coroutine[Any, Any, dict[str, Any]]],
    args: Any,
    table: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Run `bench(args)` to the end, print its result (JSON with --json, else `table`); it."""
    result = asyncio.run(bench(args))
    emit(result, args.json, table)
    return result


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


@contextlib.asynccontextmanager
async def fresh_database(url: str | None) -> AsyncIterator[str]:
    """A temporary SQLite file, or a new PostgreSQL database on the server `url` names."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="ticketbolt-bench-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"ticketbolt_bench_{secrets.token_hex(4)}"
    admin = make_engine(url)
    try:
        await _autocommit(admin, f'CREATE DATABASE "{name}"')
        try:
            yield url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            await _autocommit(admin, f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def emulators(
    database_url: str | None, *, fixed_clock: bool = False
) -> AsyncIterator[tuple[SlackEmulator, GorgiasEmulator, str]]:
    """The Slack emulator (the bench's secret and bot token), the Gorgias emulator with no
    rate limit, and `fresh_database(database_url)`'s URL. A `fixed_clock` starts the Slack
    clock at FIXED_CLOCK_START."""
    slack_options = {"clock_start": FIXED_CLOCK_START} if fixed_clock else {}
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, **slack_options) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
        fresh_database(database_url) as url,
    ):
        yield slack, gorgias, url


async def _autocommit(engine: Any, statement: str) -> None:
    # CREATE and DROP DATABASE refuse to run inside a transaction.
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text(statement))


def service_env(
    slack_api_url: str, gorgias_url: str, database_url: str, **extra: str
) -> dict[str, str]:
    """The service's settings pointing at emulators on loopback; `extra` overrides."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "GORGIAS_BASE_URL": gorgias_url,
        "GORGIAS_USERNAME": GORGIAS_USERNAME,
        "GORGIAS_API_KEY": GORGIAS_KEY,
        "GORGIAS_RATE_LIMIT": "100000/1",
        # The Slack emulator enforces no tiers here; the bot's figures must not be Slack's.
        "TICKETBOLT_SLACK_LIMITS": "off",
        "DATABASE_URL": database_url,
        "TICKETBOLT_ADMIN_TOKEN": ADMIN_TOKEN,
        "TICKETBOLT_LOG_LEVEL": "WARNING",
        "TICKETBOLT_JOB_POLL_INTERVAL": "0.05",
        **extra,
    }


class Child:
    """A server as a child process on a free loopback port; stopped with SIGTERM."""

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        *,
        ready_path: str = "/readyz",
        name: str = "service",
    ) -> None:
        self.port = free_port()
        self.args = [sys.executable, *args]
        # The parent's settings must not leak in: every variable the child needs is given.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                ("SLACK_", "GORGIAS_", "TICKETBOLT_", "OPENAI_", "DATABASE_URL", "REDIS_URL")
            )
        }
        self.env = {
            **inherited,
            **env,
            "TICKETBOLT_PORT": str(self.port),
            "TICKETBOLT_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        self.ready_path = ready_path
        self.name = name
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"ticketbolt-bench-{name}-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def log_events(
        self, levels: Sequence[str] = ("warning", "error", "critical")
    ) -> dict[str, int]:
        """How often each JSON log event at `levels` was written so far ("level: event")."""
        counts: dict[str, int] = {}
        for line in Path(self._log.name).read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in levels:
                key = f"{record['level']}: {str(record.get('event', ''))[:120]}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    async def start(self, timeout: float = 60.0) -> float:
        """Spawn and wait for `ready_path` to answer 200; the seconds that took."""
        started = time.perf_counter()
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a child we poll, never block on
            self.args, env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log
        )
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited on start:\n{self.output()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + self.ready_path) as answer:
                        if answer.status == 200:
                            break
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.output()}")
                await asyncio.sleep(0.02)
        self.startup_seconds = time.perf_counter() - started
        return self.startup_seconds

    async def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout)
            except TimeoutError:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        os.unlink(self._log.name)

    async def __aenter__(self) -> Child:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def admin_stats(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with http.get(f"{url}/admin/stats", headers=headers) as answer:
        answer.raise_for_status()
        stats: dict[str, Any] = await answer.json()
        return stats


async def wait_queue_empty(
    http: aiohttp.ClientSession, url: str, deadline: float, timeout: float, poll: float
) -> dict[str, Any]:
    """Until no job is queued or running, by `deadline` (time.monotonic()); the final stats.

    `timeout` is only named in the error."""
    while True:
        stats = await admin_stats(http, url)
        jobs = stats["queue"]["by_state"]
        if jobs["queued"] == jobs["running"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"queue not drained after {timeout}s: {jobs}")
        await asyncio.sleep(poll)


class Stamped(list[Any]):
    """An emulator's request or call log, also noting when each entry arrived (perf_counter)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.perf_counter())
        super().append(item)


def seed_people(slack: SlackEmulator, customers: int = 20) -> tuple[User, list[User]]:
    """An agent and `customers` customers, each with an e-mail address."""
    agent = slack.add_user("agent", real_name="Ada Agent", email="ada@example.com")
    return agent, [
        slack.add_user(f"customer{i}", real_name=f"Customer {i}", email=f"customer{i}@example.com")
        for i in range(customers)
    ]


async def react_all(
    slack: SlackEmulator,
    agent: User | str,
    messages: Iterable[tuple[Channel | str, str]],
    senders: int,
    reacted: dict[str, float] | None = None,
) -> int:
    """`agent` reacts 🎫 to every (channel, ts), `senders` in flight at once; the deliveries
    that failed. `reacted`, when given, gets each ts's wall-clock time of reacting."""
    errors = 0
    gate = asyncio.Semaphore(senders)

    async def react(room: Channel | str, ts: str) -> None:
        nonlocal errors
        async with gate:
            if reacted is not None:
                reacted[ts] = time.time()
            delivery = await slack.user_reacts(agent, room, ts, "ticket")
        if delivery is None or delivery.status != 200:
            errors += 1

    await asyncio.gather(*(react(room, ts) for room, ts in messages))
    return errors


def loadgen_spec(
    server: Child,
    slack: SlackEmulator,
    prefix: str,
    steps: list[dict[str, Any]],
    **more: Any,
) -> dict[str, Any]:
    """What `run_loadgen` needs to offer signed events to `server` as `slack`'s workspace."""
    return {
        "url": f"{server.url}/slack/events",
        "server_pid": server.pid,
        "secret": SIGNING_SECRET,
        "team_id": slack.state.team_id,
        "app_id": slack.state.api_app_id,
        "bot_user_id": slack.bot_user.id,
        "prefix": prefix,
        "steps": steps,
        **more,
    }


async def run_loadgen(spec: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    """Run `ticketbolt.bench.loadgen` in its own process with `spec` on stdin; its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ticketbolt.bench.loadgen",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=None,
    )
    out, _ = await asyncio.wait_for(proc.communicate(json.dumps(spec).encode()), timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed with exit code {proc.returncode}")
    answer: dict[str, Any] = json.loads(out)
    return answer


# What points the service at the emulators and the database; not tuning, not reported.
_WIRING = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "GORGIAS_BASE_URL",
    "GORGIAS_USERNAME",
    "GORGIAS_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "TICKETBOLT_ADMIN_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
}


def changed_settings(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The service settings in `env` that differ from their defaults: name → (value, default)."""
    from ticketbolt.bot.settings import Settings  # noqa: PLC0415 - only the reports need it

    defaults: dict[str, str] = {}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            default = field.get_default(call_default_factory=True)
            defaults[alias] = "" if default is None else str(default)
    changed: dict[str, tuple[str, str]] = {}
    for name, value in sorted(env.items()):
        if name in _WIRING:
            continue
        default = defaults.get(name, "")
        if name not in defaults or _differs(value, default):
            changed[name] = (value, default or "unset")
    return changed


def _differs(value: str, default: str) -> bool:
    try:
        return float(value) != float(default)
    except ValueError:
        return value.lower() != default.lower()
