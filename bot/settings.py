"""Every setting of the service, read from the environment (and `.env`), validated at start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ticketbolt.bot.logs import redact_text
from ticketbolt.integrations.slack.limits import SlackLimits, parse_limits

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ticketbolt.db"


class SettingsError(Exception):
    """Configuration is invalid; the message names each variable to fix."""


class StartupError(Exception):
    """A configured dependency cannot be reached at start; the message names its variable."""


class Settings(BaseSettings):
    """The variables of DESIGN §3.2 plus tuning knobs, each documented in docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    # Socket Mode pings this often; nothing heard for three pings forces a reconnect.
    socket_ping_seconds: float = Field(
        10.0, gt=0, le=300, validation_alias="TICKETBOLT_SOCKET_PING_SECONDS"
    )
    # The client-side limiter of Slack's per-method tiers: on, off, or tier/method overrides.
    slack_limits: str = Field("on", validation_alias="TICKETBOLT_SLACK_LIMITS")
    # A job's Slack call waits for its turn inline up to this long; longer, the job is deferred.
    # 6 s lets the four ticket slots queue for a Tier 3 method (a call every 1.2 s): a deferral
    # costs more, since the next attempt looks up what this one did with Tier 3 reads.
    slack_max_inline_wait: float = Field(
        6.0, ge=0, le=10, validation_alias="TICKETBOLT_SLACK_MAX_INLINE_WAIT"
    )

    gorgias_account: str | None = Field(None, validation_alias="GORGIAS_ACCOUNT")
    gorgias_base_url: str | None = Field(None, validation_alias="GORGIAS_BASE_URL")
    gorgias_username: str | None = Field(None, validation_alias="GORGIAS_USERNAME")
    gorgias_api_key: SecretStr | None = Field(None, validation_alias="GORGIAS_API_KEY")
    gorgias_rate_limit: str = Field("40/20", validation_alias="GORGIAS_RATE_LIMIT")

    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    llm_model: str = Field("gpt-4o-mini", validation_alias="TICKETBOLT_LLM_MODEL")
    llm_timeout: float = Field(20.0, gt=0, validation_alias="TICKETBOLT_LLM_TIMEOUT")
    llm_price_per_1k_tokens: float = Field(
        0.0006, ge=0, validation_alias="TICKETBOLT_LLM_PRICE_PER_1K_TOKENS"
    )
    # Tickets from threads and hand-offs open with a summary (handlers/summary.py).
    summaries: bool = Field(True, validation_alias="TICKETBOLT_SUMMARIES")
    summary_max_chars: int = Field(
        600, ge=200, le=4000, validation_alias="TICKETBOLT_SUMMARY_MAX_CHARS"
    )
    # The LLM's whole budget for one summary, retries included; past it the summary is quoted.
    summary_timeout: float = Field(8.0, gt=0, le=60, validation_alias="TICKETBOLT_SUMMARY_TIMEOUT")
    cache_ttl_summaries: float = Field(
        86400, gt=0, validation_alias="TICKETBOLT_CACHE_TTL_SUMMARIES"
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    # PostgreSQL connections each process keeps, and its ceiling: kept open, because a
    # connection opened and closed per burst costs a connect, its TLS and type look-ups.
    database_pool_size: int = Field(
        20, ge=1, le=500, validation_alias="TICKETBOLT_DATABASE_POOL_SIZE"
    )
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    host: str = Field("127.0.0.1", validation_alias="TICKETBOLT_HOST")
    port: int = Field(3000, ge=0, le=65535, validation_alias="TICKETBOLT_PORT")
    admin_token: SecretStr | None = Field(None, validation_alias="TICKETBOLT_ADMIN_TOKEN")
    # /metrics and /readyz with details on their own port, away from Slack's public endpoint.
    metrics_port: int | None = Field(
        None, ge=0, le=65535, validation_alias="TICKETBOLT_METRICS_PORT"
    )
    metrics_host: str = Field("127.0.0.1", validation_alias="TICKETBOLT_METRICS_HOST")

    create_reaction: str = Field("ticket", validation_alias="TICKETBOLT_CREATE_REACTION")
    resolve_reaction: str = Field(
        "white_check_mark", validation_alias="TICKETBOLT_RESOLVE_REACTION"
    )
    marker_reaction: str = Field("eyes", validation_alias="TICKETBOLT_MARKER_REACTION")
    claim_reaction: str = Field("raising_hand", validation_alias="TICKETBOLT_CLAIM_REACTION")
    # The channels file (bot/channels.py): per-channel mode, tags, priority, SLA.
    channels_path: Path | None = Field(None, validation_alias="TICKETBOLT_CHANNELS")
    agents: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TICKETBOLT_AGENTS"
    )
    assistant_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TICKETBOLT_ASSISTANT_CHANNELS"
    )
    intents_path: Path | None = Field(None, validation_alias="TICKETBOLT_INTENTS")
    kb_dir: Path | None = Field(None, validation_alias="TICKETBOLT_KB_DIR")
    model_cache_dir: Path | None = Field(None, validation_alias="TICKETBOLT_MODEL_CACHE_DIR")
    # Tier 2 of the offline classifier: unset for the pinned model of ticketbolt[accurate], a
    # directory holding model.onnx and tokenizer.json, or `off`.
    encoder_model: str | None = Field(None, validation_alias="TICKETBOLT_ENCODER_MODEL")
    gorgias_webhook_token: SecretStr | None = Field(
        None, validation_alias="TICKETBOLT_GORGIAS_WEBHOOK_TOKEN"
    )
    sync_internal_notes: bool = Field(False, validation_alias="TICKETBOLT_SYNC_INTERNAL_NOTES")

    # Unset: the threshold is fitted to the intents' examples for TICKETBOLT_INTENT_PRECISION.
    intent_threshold: float | None = Field(
        None, ge=0, le=1, validation_alias="TICKETBOLT_INTENT_THRESHOLD"
    )
    intent_precision: float = Field(
        0.97, gt=0, le=1, validation_alias="TICKETBOLT_INTENT_PRECISION"
    )
    assistant_rate_per_minute: int = Field(
        10, ge=1, validation_alias="TICKETBOLT_ASSISTANT_RATE_PER_MINUTE"
    )
    # Assistant hand-off tickets opened in the last hour: per customer, and in all.
    handoffs_per_customer_hour: int = Field(
        3, ge=1, validation_alias="TICKETBOLT_HANDOFFS_PER_CUSTOMER_HOUR"
    )
    handoffs_per_hour: int = Field(200, ge=1, validation_alias="TICKETBOLT_HANDOFFS_PER_HOUR")
    cache_ttl_intents: float = Field(3600, gt=0, validation_alias="TICKETBOLT_CACHE_TTL_INTENTS")
    cache_ttl_kb: float = Field(86400, gt=0, validation_alias="TICKETBOLT_CACHE_TTL_KB")
    cache_ttl_responses: float = Field(
        1800, gt=0, validation_alias="TICKETBOLT_CACHE_TTL_RESPONSES"
    )
    cache_max_entries: int = Field(10_000, ge=1, validation_alias="TICKETBOLT_CACHE_MAX_ENTRIES")
    # Messages seen live are kept this long, so a 🎫 on one needs no Slack read (0: off).
    message_cache_minutes: float = Field(
        60.0, ge=0, validation_alias="TICKETBOLT_MESSAGE_CACHE_MINUTES"
    )

    # 15 attempts backing off to 15 minutes ride out roughly an hour and a half of outage.
    job_max_attempts: int = Field(15, ge=1, validation_alias="TICKETBOLT_JOB_MAX_ATTEMPTS")
    job_backoff_base: float = Field(2.0, gt=0, validation_alias="TICKETBOLT_JOB_BACKOFF_BASE")
    job_backoff_max: float = Field(900.0, gt=0, validation_alias="TICKETBOLT_JOB_BACKOFF_MAX")
    breaker_failures: int = Field(5, ge=1, validation_alias="TICKETBOLT_BREAKER_FAILURES")
    breaker_reset_seconds: float = Field(
        30.0, gt=0, validation_alias="TICKETBOLT_BREAKER_RESET_SECONDS"
    )
    job_lease_seconds: float = Field(60.0, gt=0, validation_alias="TICKETBOLT_JOB_LEASE_SECONDS")
    job_poll_interval: float = Field(0.5, gt=0, validation_alias="TICKETBOLT_JOB_POLL_INTERVAL")
    # Jobs one worker runs at once, per lane (bot/lanes.py): a customer's reply never waits
    # behind a burst of tickets. Slots wait on I/O; upstream limiters bound the calls. A reply
    # mostly awaits the LLM, so its lane holds as many customers as write at once (the openai
    # client's pool, 1,000 connections, is no ceiling). Tickets and sync keep the old pool's
    # 4: more ticket jobs at once, deferred together by Slack's per-channel limits, come back
    # together and finish later, not sooner (measured).
    lane_assistant: int = Field(64, ge=1, validation_alias="TICKETBOLT_LANE_ASSISTANT")
    lane_tickets: int = Field(4, ge=1, validation_alias="TICKETBOLT_LANE_TICKETS")
    lane_sync: int = Field(4, ge=1, validation_alias="TICKETBOLT_LANE_SYNC")
    # Optional ceiling on every lane (before lanes: the one pool of slots for all jobs).
    worker_concurrency: int | None = Field(
        None, ge=1, validation_alias="TICKETBOLT_WORKER_CONCURRENCY"
    )
    # Where `ticketbolt run` runs its job worker: "process" supervises `ticketbolt worker` as a
    # child, so job work never competes with acknowledgements on one event loop; "inline" keeps
    # it in the server's process; "off" runs none (workers are deployed apart, `ticketbolt
    # worker`); "auto" is "process" with Redis and PostgreSQL (what a child shares with its
    # parent), "inline" on the embedded defaults.
    worker_process: Literal["auto", "process", "inline", "off"] = Field(
        "auto", validation_alias="TICKETBOLT_WORKER_PROCESS"
    )
    # The supervised child worker's scheduling priority, added to the server's (nice(2)): on
    # a busy host the kernel gives the acknowledgements the core first. Off by default: a
    # starved worker can stall past its job lease, and another worker then runs the job too.
    worker_nice: int = Field(0, ge=0, le=19, validation_alias="TICKETBOLT_WORKER_NICE")
    # The supervised worker's /metrics and /readyz (its job and upstream counters live there).
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535, validation_alias="TICKETBOLT_WORKER_METRICS_PORT"
    )
    # After SIGTERM, in-flight jobs get this long; the rest are released, never re-run blind.
    shutdown_grace: float = Field(10.0, ge=0, validation_alias="TICKETBOLT_SHUTDOWN_GRACE")
    # A request that got no answer may still be carried out upstream; wait this long before a
    # retry looks up what it did (longer than the Gorgias and Slack client timeouts).
    upstream_settle: float = Field(
        20.0, ge=0, validation_alias="TICKETBOLT_UPSTREAM_SETTLE_SECONDS"
    )
    retention_days: float = Field(30.0, gt=0, validation_alias="TICKETBOLT_RETENTION_DAYS")
    audit_retention_days: float = Field(
        365.0, gt=0, validation_alias="TICKETBOLT_AUDIT_RETENTION_DAYS"
    )
    # The share of the Gorgias allowance the SLA watchdog may spend confirming tickets.
    sla_api_share: float = Field(0.25, gt=0, le=1, validation_alias="TICKETBOLT_SLA_API_SHARE")
    sla_interval_seconds: float = Field(
        30.0, ge=1, le=3600, validation_alias="TICKETBOLT_SLA_INTERVAL_SECONDS"
    )
    # An agent's internal note in Gorgias stops the first-response clock too (not only replies).
    sla_note_counts_as_response: bool = Field(
        False, validation_alias="TICKETBOLT_SLA_NOTE_COUNTS_AS_RESPONSE"
    )
    # Satisfaction scores at or below this also go to the channel's alert channel.
    csat_alert_below: int = Field(2, ge=0, le=5, validation_alias="TICKETBOLT_CSAT_ALERT_BELOW")
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias="TICKETBOLT_MAX_BODY_BYTES")
    log_level: str = Field("INFO", validation_alias="TICKETBOLT_LOG_LEVEL")
    log_format: str = Field("json", validation_alias="TICKETBOLT_LOG_FORMAT")

    @field_validator("agents", "assistant_channels", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with 'xoxb-'")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with 'xapp-'")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use 'sqlite+aiosqlite:///path.db' or 'postgresql+asyncpg://user@host/db'"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "use 'redis://host:6379/0' (or rediss:// for TLS, unix:// for a socket)"
            )
        return value

    @field_validator("gorgias_rate_limit")
    @classmethod
    def _rate_limit_shape(cls, value: str) -> str:
        count, _, window = value.partition("/")
        if not (count.strip().isdigit() and window.strip().replace(".", "", 1).isdigit()):
            raise ValueError("must look like '40/20' (requests per window seconds)")
        if int(count) < 1 or float(window) <= 0:
            raise ValueError("requests and window must be positive")
        return value

    @field_validator("slack_limits")
    @classmethod
    def _slack_limits_shape(cls, value: str) -> str:
        parse_limits(value)  # raises ValueError naming the bad part
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in {"json", "console"}:
            raise ValueError("must be 'json' or 'console'")
        return value

    @property
    def sandbox(self) -> bool:
        """No Slack credentials: run against the built-in emulators."""
        return self.slack_bot_token is None

    @property
    def slack_limits_table(self) -> SlackLimits | None:
        """The Slack limits the client-side limiter follows; None when it is off."""
        return parse_limits(self.slack_limits)

    @property
    def worker_in_child(self) -> bool:
        """Whether `ticketbolt run` supervises its worker as a child process (see
        TICKETBOLT_WORKER_PROCESS): it needs what both processes can share, Redis for the cache
        and the limiters, and a database two processes write well, PostgreSQL."""
        if self.worker_process != "auto":
            return self.worker_process == "process"
        return bool(self.redis_url) and self.database_url.startswith("postgresql")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def gorgias_api_url(self) -> str | None:
        if self.gorgias_base_url:
            return self.gorgias_base_url.rstrip("/") + "/"
        if self.gorgias_account:
            return f"https://{self.gorgias_account}.gorgias.com/api/"
        return None

    @property
    def gorgias_configured(self) -> bool:
        return bool(self.gorgias_api_url and self.gorgias_username and self.gorgias_api_key)

    def gorgias_missing(self) -> list[str]:
        """The Gorgias variables still to set (all three when none is)."""
        return [
            name
            for name, value in (
                ("GORGIAS_ACCOUNT or GORGIAS_BASE_URL", self.gorgias_api_url),
                ("GORGIAS_USERNAME", self.gorgias_username),
                ("GORGIAS_API_KEY", self.gorgias_api_key),
            )
            if not value
        ]

    def problems(self) -> list[tuple[str, str]]:
        """Combinations that are individually valid but unusable together: (variable, why)."""
        found: list[tuple[str, str]] = []
        if self.slack_bot_token and not self.socket_mode and not self.slack_signing_secret:
            found.append(("SLACK_SIGNING_SECRET", "required in HTTP mode (no SLACK_APP_TOKEN)"))
        if self.slack_app_token and not self.slack_bot_token:
            found.append(("SLACK_BOT_TOKEN", "required when SLACK_APP_TOKEN is set"))
        if self.slack_bot_token and not self.gorgias_configured:
            found.extend((name, "required to create tickets") for name in self.gorgias_missing())
        if self.worker_process == "process" and not self.redis_url:
            found.append(
                (
                    "TICKETBOLT_WORKER_PROCESS",
                    "'process' needs REDIS_URL: without it the worker and the server would "
                    "keep separate caches and rate limiters; set REDIS_URL or use 'inline'",
                )
            )
        return found


def _variable_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, str):
        return alias
    return field.upper()


def _shown(value: Any, loc: tuple[int | str, ...]) -> str:
    """A rejected value as an error may show it: tokens masked, and in a URL setting anything
    between a colon and an '@' (a password, even in a URL too malformed to parse)."""
    shown = redact_text(repr(value))
    if _variable_name(loc).endswith("URL"):
        shown = re.sub(r":[^:@/\s]+@", ":[redacted]@", shown)
    return shown


def _problem(loc: tuple[int | str, ...], message: str, given: Any) -> str:
    """One line of a settings error; a secret's value is never shown, others masked."""
    name = _variable_name(loc)
    if any(word in name.lower() for word in ("token", "secret", "key")):
        return f"{name}: {message}"
    return f"{name}: {message} (got {_shown(given, loc)})"


def load_settings(values: dict[str, Any] | None = None) -> Settings:
    """Settings from `values` (tests) or the environment; `SettingsError` names what is wrong."""
    try:
        if values is None:
            return Settings()
        return Settings.model_validate(values)
    except ValidationError as exc:
        lines = [_problem(err["loc"], err["msg"], err.get("input")) for err in exc.errors()]
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
