"""Configured passwords and tokens never appear in what the command line prints."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from tests.test_cli import run
from ticketbolt.bot.logs import configure_logging, redact_text

PASSWORD = "Sup3r-S3cret-pw"
SECRETS = {
    "DATABASE_URL": f"postgresql+asyncpg://bob:{PASSWORD}@127.0.0.1:1/tickets",
    "REDIS_URL": f"redis://:{PASSWORD}r@127.0.0.1:1/0",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-secretbottoken",
    "SLACK_SIGNING_SECRET": "signing-secret-value-123",
    "GORGIAS_BASE_URL": "http://127.0.0.1:1/api/",
    "GORGIAS_USERNAME": "api-user",
    "GORGIAS_API_KEY": "gorgias-key-value-456",
    "TICKETBOLT_ADMIN_TOKEN": "admin-token-value-789",
}
SECRET_VALUES = [
    PASSWORD,
    "xoxb-1111-2222-secretbottoken",
    "signing-secret-value-123",
    "gorgias-key-value-456",
    "admin-token-value-789",
]


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRET_VALUES if secret in text]


@pytest.mark.parametrize(
    ("args", "overrides"),
    [
        (("run",), {}),
        (("worker",), {}),
        (("check",), {}),
        (("db", "upgrade"), {}),
        (("check",), {"DATABASE_URL": f"mysql://bob:{PASSWORD}@db/tickets"}),
        (("run",), {"REDIS_URL": f"http//:{PASSWORD}@nowhere"}),
    ],
    ids=["run", "worker", "check", "db-upgrade", "bad-database-url", "bad-redis-url"],
)
def test_cli_output_never_shows_a_configured_secret(
    tmp_path: Path, args: tuple[str, ...], overrides: dict[str, str]
) -> None:
    """Every command fails here (nothing is reachable), and says so without the secrets."""
    done = run(*args, cwd=tmp_path, **{**SECRETS, **overrides})
    assert 0 != done.returncode
    assert [] == _leaks(done.stdout + done.stderr)
    assert "Traceback" not in done.stderr


def test_run_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    """`run` against a database that does not answer: one line naming DATABASE_URL, exit 1."""
    done = run("run", cwd=tmp_path, **SECRETS)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert 1 == done.returncode
    assert 1 == len(lines), done.stderr
    assert lines[0].startswith("ticketbolt: DATABASE_URL: cannot reach the database at ")
    assert "bob:[redacted]@127.0.0.1:1/tickets" in lines[0]


def test_log_lines_mask_passwords_in_urls_and_tokens() -> None:
    """A log line quoting a URL with a password, or a token, shows neither."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("ticketbolt.test").warning(
        "could not connect to %s with %s", SECRETS["DATABASE_URL"], SECRETS["SLACK_BOT_TOKEN"]
    )
    assert [] == _leaks(stream.getvalue())
    assert "bob:[redacted]@127.0.0.1" in stream.getvalue()


def test_redaction_keeps_urls_without_a_password() -> None:
    """Only the password goes; the host, port and database stay readable for the operator."""
    assert "postgresql+asyncpg://bob:[redacted]@db:5432/t" == redact_text(
        "postgresql+asyncpg://bob:pw@db:5432/t"
    )
    assert "sqlite+aiosqlite:///./ticketbolt.db" == redact_text(
        "sqlite+aiosqlite:///./ticketbolt.db"
    )
