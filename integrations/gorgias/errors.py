"""Errors the Gorgias client raises, translated from HTTP statuses and transport failures.

    GorgiasError                  base of everything below; `status` (int | None), `message`
    ├── GorgiasRejected           400 and unnamed 4xx: the request is wrong; `field_errors`
    │                             maps a field to its messages, from {"error":{"msg","data"}}
    ├── GorgiasUnauthorized       401 / 403: bad credentials or a role without permission
    ├── GorgiasNotFound           404: the resource does not exist (or the account is wrong)
    ├── GorgiasConflict           409: the identifier is taken (e.g. a customer's e-mail)
    ├── GorgiasRateLimited        429 still answered after the retries; `retry_after` seconds
    └── GorgiasUnavailable        5xx, timeouts and connection errors after the retries
        ├── GorgiasCircuitOpen    the circuit breaker is open: no request was sent
        └── GorgiasInFlight       sent, and we stopped waiting (read or write timeout):
                                  Gorgias may still act on it; also an `OutcomeUnknown`

Only `GorgiasUnavailable` and `GorgiasRateLimited` are worth retrying later; the others need
a change to the request, the credentials or the data.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from ticketbolt.integrations.resilience import OutcomeUnknown

_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


class GorgiasError(Exception):
    """Base class: something went wrong talking to Gorgias."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GorgiasRejected(GorgiasError):
    """Gorgias refused the request as invalid (400); `field_errors` says which fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 400,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (field_errors or {}).items())
        super().__init__(f"{message} ({details})" if details else message, status=status)
        self.field_errors = field_errors or {}


class GorgiasUnauthorized(GorgiasError):
    """The credentials are wrong (401) or the key's user lacks the permission (403)."""


class GorgiasNotFound(GorgiasError):
    """The resource does not exist (404)."""


class GorgiasConflict(GorgiasError):
    """The resource already exists (409)."""


class GorgiasRateLimited(GorgiasError):
    """Gorgias kept answering 429; `retry_after` is its last advice in seconds."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class GorgiasUnavailable(GorgiasError):
    """Gorgias could not be reached or failed on its side (5xx, timeout, connection)."""


class GorgiasCircuitOpen(GorgiasUnavailable):
    """Recent calls failed, so the breaker refused this one without sending it."""


class GorgiasInFlight(GorgiasUnavailable, OutcomeUnknown):
    """The request went out and no answer came back: Gorgias may still carry it out."""


def retry_after_seconds(response: httpx.Response, default: float = 1.0) -> float:
    """The `Retry-After` header as seconds (Gorgias sends an integer), else `default`."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def error_from_response(response: httpx.Response) -> GorgiasError:
    """Translate a non-2xx response, with a JSON, plain-text or HTML body, into our error."""
    status = response.status_code
    message, field_errors = _parse_body(response)
    if status == 429:
        return GorgiasRateLimited(message, retry_after=retry_after_seconds(response))
    if status >= 500 or status == 408:
        return GorgiasUnavailable(message, status=status)
    kinds: dict[int, type[GorgiasError]] = {
        401: GorgiasUnauthorized,
        403: GorgiasUnauthorized,
        404: GorgiasNotFound,
        409: GorgiasConflict,
    }
    if status in kinds:
        return kinds[status](message, status=status)
    return GorgiasRejected(message, status=status, field_errors=field_errors)


def _parse_body(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    prefix = f"{response.status_code} {response.reason_phrase}".strip()
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        # An unknown subdomain answers with an HTML page; keep only a short plain excerpt.
        text = _SPACES.sub(" ", _TAGS.sub(" ", response.text)).strip()
        return (f"{prefix}: {text[:120]}" if text else prefix), {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        msg = str(error.get("msg") or prefix)
        return f"{prefix}: {msg}", _field_errors(error.get("data"))
    if isinstance(error, str):
        return f"{prefix}: {error}", {}
    return prefix, {}


def _field_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten Marshmallow-style `{"field": ["msg"], "nested": {"f": ["msg"]}}`."""
    if not isinstance(data, dict):
        return {}
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_field_errors(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = [str(v) for v in value]
        else:
            out[name] = [str(value)]
    return out
