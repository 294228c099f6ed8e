"""`ticketbolt check` tells the truth: exit 1 when a configured dependency is down, and every
row that is not ok names the setting to fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.test_cli import run

DEAD = "http://127.0.0.1:1/api/"  # nothing listens on port 1


def rows(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """The table as {dependency: [state, rest of the line]}."""
    table: dict[str, list[str]] = {}
    for line in done.stdout.splitlines()[2:]:
        name, state, rest = [*line.split(maxsplit=2), "", ""][:3]
        table[name] = [state, rest]
    return table


def test_nothing_set_is_the_sandbox_and_passes(tmp_path: Path) -> None:
    """No variables: exit 0; Slack, Gorgias and the LLM are off, shown without a latency."""
    done = run("check", cwd=tmp_path)
    table = rows(done)
    assert 0 == done.returncode, done.stderr
    assert ["ok", "ok"] == [table["database"][0], table["cache"][0]]
    for name in ("slack", "gorgias", "llm"):
        state, rest = table[name]
        assert "off" == state
        assert " ms" not in rest
    assert "SLACK_BOT_TOKEN" in table["slack"][1]


def test_partial_gorgias_names_every_missing_variable(tmp_path: Path) -> None:
    """GORGIAS_ACCOUNT alone: exit 1, and the row names GORGIAS_USERNAME and GORGIAS_API_KEY."""
    done = run("check", cwd=tmp_path, GORGIAS_ACCOUNT="acme")
    state, rest = rows(done)["gorgias"]
    assert 1 == done.returncode
    assert "down" == state
    assert "GORGIAS_USERNAME and GORGIAS_API_KEY" in rest


def test_gorgias_configured_but_down_fails(tmp_path: Path) -> None:
    """A configured Gorgias that does not answer is a failure, not a pass."""
    done = run(
        "check",
        cwd=tmp_path,
        GORGIAS_BASE_URL=DEAD,
        GORGIAS_USERNAME="api@shop.example",
        GORGIAS_API_KEY="key",
    )
    assert 1 == done.returncode
    assert "down" == rows(done)["gorgias"][0]
    assert "gorgias is down: check GORGIAS_ACCOUNT" in done.stderr


def test_redis_configured_but_down_fails_and_names_redis_url(tmp_path: Path) -> None:
    """The bot would serve from memory, but check reports the lost Redis and exits 1."""
    done = run("check", cwd=tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    state, rest = rows(done)["cache"]
    assert 1 == done.returncode
    assert "degraded" == state
    assert rest.rstrip().endswith("REDIS_URL")


def test_a_bad_database_url_is_named_with_its_password_masked(tmp_path: Path) -> None:
    """A DATABASE_URL with the wrong driver: exit 1, the variable named, the password not shown."""
    done = run("check", cwd=tmp_path, DATABASE_URL="mysql://bob:hunter2@db/tickets")
    assert 1 == done.returncode
    assert "DATABASE_URL" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert "mysql://bob:[redacted]@db/tickets" in done.stderr
