"""Structured JSON logging with a correlation id, and redaction of secrets and e-mail addresses."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

SECRET_KEYS = re.compile(r"token|secret|password|api_key|apikey|authorization|cookie", re.I)
SECRET_VALUES = re.compile(
    r"xox[abprse]-[A-Za-z0-9-]+"  # Slack bot/user/refresh tokens
    r"|xapp-[A-Za-z0-9-]+"  # Slack app-level tokens
    r"|sk-[A-Za-z0-9_-]{8,}"  # OpenAI-style keys
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"  # Authorization header values
)
# The password of a URL's user information: scheme://user:PASSWORD@host
URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):([^@\s]+)@")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    """Replace anything that looks like a credential or an e-mail address."""
    text = URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    return EMAIL.sub("[email]", SECRET_VALUES.sub(REDACTED, text))


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub every field of the event before it is rendered."""
    for key in list(event_dict):
        if SECRET_KEYS.search(key) and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library through one redacting renderer."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # These libraries log request URLs and bodies at INFO/DEBUG; keep them to warnings.
    for noisy in (
        "httpx",
        "httpcore",
        "aiohttp.access",
        "openai",
        "slack_bolt",
        "slack_sdk",
        "alembic",
        "httpx2",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind_correlation_id(correlation_id: str) -> None:
    """Attach the id to every log line of the current task and the tasks it starts."""
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)


def clear_correlation_id() -> None:
    structlog.contextvars.unbind_contextvars("correlation_id")
