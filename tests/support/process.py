"""The service as a real OS process (`python -m ticketbolt run`), to kill and restart in tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from ticketbolt.bot.db.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.env = {**os.environ, **env, "TICKETBOLT_PORT": str(self.port)}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a child we poll, not a blocking wait
            [sys.executable, "-m", "ticketbolt", "run"],
            env=self.env,
            stdout=log,
            stderr=log,
            cwd=ROOT,
        )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited: {self.log_path.read_text()[-3000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"server not ready: {self.log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    async def close(self) -> None:
        """Make sure the child is gone and reaped, whatever the test did."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            await self.wait()

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        for _ in range(int(timeout * 10)):
            code = self.proc.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.1)
        self.proc.kill()
        raise AssertionError("server did not exit")


@asynccontextmanager
async def fresh_postgres_database(admin_url: str, name: str) -> AsyncIterator[str]:
    """A new empty PostgreSQL database for processes that cannot take a search path."""
    admin = make_engine(admin_url)
    async with admin.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def process_env(slack: Any, gorgias: Any, database_url: str, **extra: str) -> dict[str, str]:
    """The emulator settings as environment variables for a `python -m ticketbolt run` child."""
    from tests.support.stack import emulator_settings

    defaults = {"TICKETBOLT_JOB_LEASE_SECONDS": "2", "TICKETBOLT_LOG_LEVEL": "WARNING"}
    settings = emulator_settings(database_url, slack, gorgias, **{**defaults, **extra})
    return {name: str(value) for name, value in settings.items()}
