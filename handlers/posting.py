"""Posting to Slack exactly once across retries.

Every post carries a marker in its metadata. A note per marker in the cache (Redis when
configured) says what this marker's last send did:

    posted    Slack answered: skip it.
    refused   refused before anything was sent (our rate limiter, or Slack's 429): post again
              without looking.
    sending   sent, answer unknown: look in Slack for the marker first.

With no note (a crash in a process without Redis, an expired note), a retried job looks in Slack
first, as it must when an earlier attempt may have posted. So the note saves Slack reads after
deferrals, and never decides anything it does not know.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.cache.base import Cache, CacheUnavailable
from ticketbolt.handlers.deps import JobLike
from ticketbolt.integrations.resilience import Deferred

EVENT_TYPE = "ticketbolt"
NOTE_TTL = 86_400.0


async def post_once(
    slack: AsyncWebClient,
    job: JobLike,
    *,
    channel: str,
    text: str,
    marker: str,
    thread_ts: str | None = None,
    after_ts: str | None = None,
    notes: Cache | None = None,
    **fields: Any,
) -> None:
    """Post `text` unless an earlier attempt of `job` already did.

    A thread reply is looked for in the thread; a top-level message in the channel's history
    from `after_ts` on (the message it answers).
    """
    note = await _read(notes, marker)
    if note == "posted":
        return
    unsure = note == "sending" or (note is None and job.outcome_unknown)
    if unsure and await posted(slack, channel, marker, thread_ts=thread_ts, after_ts=after_ts):
        await _write(notes, marker, "posted")
        return
    await _write(notes, marker, "sending")
    try:
        await slack.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": marker}},
            **fields,
        )
    except Deferred:
        await _write(notes, marker, "refused")
        raise
    except SlackApiError as exc:
        if exc.response.status_code == 429 or exc.response.get("error") == "ratelimited":
            await _write(notes, marker, "refused")
        raise
    await _write(notes, marker, "posted")


async def posted(
    slack: AsyncWebClient,
    channel: str,
    marker: str,
    *,
    thread_ts: str | None = None,
    after_ts: str | None = None,
) -> bool:
    """Whether a message carrying `marker` is already there (False when Slack cannot say)."""
    try:
        if thread_ts:
            page = await slack.conversations_replies(
                channel=channel, ts=thread_ts, limit=200, include_all_metadata=True
            )
        else:
            page = await slack.conversations_history(
                channel=channel, oldest=after_ts or "0", limit=200, include_all_metadata=True
            )
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            raise  # rate limited: the job waits and looks again, it must not guess
        return False
    for message in page.get("messages") or []:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("marker") == marker:
            return True
    return False


def _key(marker: str) -> str:
    return f"post:{marker}"


async def _read(notes: Cache | None, marker: str) -> str | None:
    if notes is None:
        return None
    try:
        raw = await notes.get(_key(marker))
    except CacheUnavailable:
        return None
    return raw.decode() if raw else None


async def _write(notes: Cache | None, marker: str, state: str) -> None:
    if notes is None:
        return
    try:
        await notes.set(_key(marker), state.encode(), NOTE_TTL)
    except CacheUnavailable:
        return
