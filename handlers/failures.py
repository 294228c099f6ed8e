"""One place that says whether a failed job may succeed later, and how long to wait first.

permanent   retrying cannot help: bad data for the database, a Slack error about the user,
            channel, scope or token, a Gorgias 4xx other than 408, 409 and 429, our own
            `PermanentJobError`. The job fails at once, with a notice where one can be posted.
unsettled   a request went out and no answer came back (`OutcomeUnknown`): retry after the
            settle time, looking up first what the request may have done.
deferred    an upstream's allowance is spent (`Deferred`, or a Slack 429): run again once
            `retry_after` has passed; this attempt does not count toward giving up.
temporary   everything else (5xx, Gorgias 429, timeouts before sending, a database restart):
            retry with backoff.
taken_over  the job's lease passed to another worker while this attempt stalled (`LeaseLost`):
            this worker leaves it alone; the new holder runs it.
"""

from __future__ import annotations

from typing import Literal

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DataError

from ticketbolt.handlers.deps import PermanentJobError
from ticketbolt.integrations.gorgias.errors import (
    GorgiasNotFound,
    GorgiasRejected,
    GorgiasUnauthorized,
)
from ticketbolt.integrations.resilience import Deferred, LeaseLost, OutcomeUnknown
from ticketbolt.integrations.slack.throttle import retry_after

Kind = Literal["permanent", "unsettled", "deferred", "temporary", "taken_over"]

# Slack errors that name something retrying cannot change.
SLACK_PERMANENT = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "missing_scope",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "message_not_found",
        "thread_not_found",
        "cant_update_message",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
    }
)


def classify(exc: BaseException) -> Kind:
    """How a failed attempt should be treated (see the module docstring)."""
    for error in _chain(exc):
        if isinstance(error, LeaseLost):
            return "taken_over"
        if _permanent(error):
            return "permanent"
        if isinstance(error, OutcomeUnknown):
            return "unsettled"
        if _retry_after(error) is not None:
            return "deferred"
    return "temporary"


def _permanent(error: BaseException) -> bool:
    if isinstance(error, SlackApiError):
        return slack_error(error) in SLACK_PERMANENT
    return isinstance(
        error,
        PermanentJobError | DataError | GorgiasRejected | GorgiasUnauthorized | GorgiasNotFound,
    )


def deferral(exc: BaseException) -> float | None:
    """Seconds to wait before running a deferred job again; None when `exc` is no deferral."""
    if classify(exc) != "deferred":
        return None
    return next(s for e in _chain(exc) if (s := _retry_after(e)) is not None)


def _retry_after(error: BaseException) -> float | None:
    if isinstance(error, Deferred):
        return error.retry_after
    if isinstance(error, SlackApiError):
        return retry_after(error)
    return None


def gives_up(exc: BaseException, last_attempt: bool) -> bool:
    """Whether this failure ends the job: permanent, or the last attempt and not a deferral
    (nor a take-over: the job goes on under another worker)."""
    kind = classify(exc)
    return kind == "permanent" or (last_attempt and kind not in ("deferred", "taken_over"))


def slack_error(error: SlackApiError) -> str:
    """The `error` code of a Slack Web API answer ('' when there is none)."""
    response = getattr(error, "response", None)
    try:
        return str(response.get("error") or "") if response is not None else ""
    except (AttributeError, TypeError):
        return ""


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and those it was raised from, outermost first (bounded against cycles)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
