"""Shared fixtures: the real PostgreSQL and Redis servers; a clear skip (or CI failure) without."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

# Property tests: a bounded, deterministic run (the same examples on every machine), no deadline
# because loopback servers share two cores with the rest of the suite.
settings.register_profile(
    "ticketbolt",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ticketbolt"))

POSTGRES_URL = os.environ.get(
    "TICKETBOLT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _redis_url_for_this_worker(base: str) -> str:
    """Parallel runs (pytest-xdist) give each worker its own Redis database, counting down
    from the configured one (gw0 keeps it, gw1 the one below, …), since tests empty theirs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return base
    prefix, _, number = base.rpartition("/")
    return f"{prefix}/{int(number) - int(worker[2:])}"


REDIS_URL = _redis_url_for_this_worker(
    os.environ.get("TICKETBOLT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
)
REQUIRE_SERVICES = os.environ.get("TICKETBOLT_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the test when a server is absent, or fail when CI demands the servers."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and TICKETBOLT_REQUIRE_SERVICES=1 demands it")
    pytest.skip(f"{message}; start it to run this test (see README, 'Running the tests')")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of the real Redis server (database 15), emptied after the test."""
    require_service("Redis", "127.0.0.1", 6379)
    yield REDIS_URL
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def postgres_url() -> str:
    """The URL of the real PostgreSQL server's `test` database."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture
def unique() -> str:
    """A short random name for keys, schemas and ids that must not collide between tests."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[object]:
    """A `redis.asyncio.Redis` client on the real server, closed after the test."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path: object, unique: str
) -> AsyncIterator[object]:
    """A migrated database on SQLite (a temp file) or on the real PostgreSQL (a private schema).

    Yields a `tests.support.db.Database` with the engine, the URL and the search path, and
    removes everything afterwards.
    """
    from tests.support.db import open_database

    if request.param == "postgresql":
        require_service("PostgreSQL", "127.0.0.1", 5432)
    async with open_database(request.param, POSTGRES_URL, tmp_path, unique) as db:
        yield db
