"""The failure classifier: what a failed attempt means for its job."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from ticketbolt.handlers.deps import PermanentJobError
from ticketbolt.handlers.failures import classify, gives_up
from ticketbolt.integrations.resilience import LeaseLost, OutcomeUnknown


def slack_error(code: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers={},
        status_code=200,
    )
    return SlackApiError(code, response)


def wrapped(error: Exception) -> Exception:
    """`error` as a handler might let it out: raised from inside another exception."""
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("while posting the reply") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LeaseLost("job 7 is held by another worker now"), "taken_over"),
        (wrapped(LeaseLost("job 7")), "taken_over"),
        (PermanentJobError("no such message"), "permanent"),
        (slack_error("channel_not_found"), "permanent"),
        (slack_error("internal_error"), "temporary"),
        (wrapped(OutcomeUnknown("no answer")), "unsettled"),
        (RuntimeError("database restarted"), "temporary"),
    ],
)
def test_each_failure_has_its_kind(error: Exception, kind: str) -> None:
    assert kind == classify(error)


def test_a_job_taken_over_is_never_given_up_by_the_worker_that_lost_it() -> None:
    """Even on its last attempt: the job goes on under its new holder, with no failure notice."""
    assert not gives_up(LeaseLost("job 7"), last_attempt=True)
    assert gives_up(RuntimeError("boom"), last_attempt=True)
    assert not gives_up(RuntimeError("boom"), last_attempt=False)
    assert gives_up(PermanentJobError("bad"), last_attempt=False)
