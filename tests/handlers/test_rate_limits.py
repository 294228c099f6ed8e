"""Slack's rate limits over the full stack: a limited job is deferred and frees its worker slot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.bot.db.jobs import JobRecord
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User

# The window stays short of real time on purpose; the deferral follows Slack's Retry-After.
WINDOW = 30


def people(slack: SlackEmulator) -> tuple[User, User]:
    customer = slack.state.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    agent = slack.state.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    return customer, agent


def room(slack: SlackEmulator, name: str, *members: User) -> Channel:
    return slack.state.add_channel(name, members=[*(m.id for m in members), slack.bot_user.id])


def replies(channel: Channel, ts: str) -> list[Any]:
    return [m for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]


async def create_job(stack: Stack, channel: Channel) -> JobRecord:
    jobs = await stack.runtime.queue.list()
    return next(j for j in jobs if j.kind == "create_ticket" and j.payload["channel"] == channel.id)


async def finished(stack: Stack, channel: Channel) -> JobRecord:
    """The channel's ticket job once it is done or failed."""

    async def settled() -> bool:
        return (await create_job(stack, channel)).state in {"done", "failed"}

    await eventually(settled, what="the job to finish")
    return await create_job(stack, channel)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_rate_limited_job_gives_its_worker_slot_to_another(database: Database) -> None:
    """With one worker slot, a ticket whose thread reply Slack rate limits for 30 s is deferred;
    another channel's ticket is made and announced meanwhile; after the window the first is
    announced too, exactly once, on the same ticket, without spending an attempt."""
    async with (
        emulators() as (slack, gorgias),
        running_app(
            database, slack, gorgias, TICKETBOLT_WORKER_CONCURRENCY=1, TICKETBOLT_SLACK_LIMITS="on"
        ) as stack,
    ):
        customer, agent = people(slack)
        first, second = (
            room(slack, "orders", customer, agent),
            room(slack, "returns", customer, agent),
        )
        slack.faults.rate_limit("chat.postMessage", times=1, retry_after=WINDOW)
        first_ts = await slack.user_posts(customer, first, "Where is my parcel?")
        await slack.user_reacts(agent, first, first_ts, "ticket")
        await slack.wait_for("chat.postMessage", timeout=15)
        second_ts = await slack.user_posts(customer, second, "I want to return a lamp")
        await slack.user_reacts(agent, second, second_ts, "ticket")

        await eventually(lambda: replies(second, second_ts), what="the other ticket's reply")
        waiting = await create_job(stack, first)
        assert ("queued", 1, 0) == (waiting.state, waiting.attempts, len(replies(first, first_ts)))

        await eventually(
            lambda: replies(first, first_ts), timeout=WINDOW + 30, what="the deferred reply"
        )
        done = await finished(stack, first)
        assert (1, 1, 2) == (
            len(replies(first, first_ts)),
            len(replies(second, second_ts)),
            len(gorgias.tickets),
        )
        # Counted as started (the retry looked up its ticket), not toward giving up.
        assert ("done", 2, 16) == (done.state, done.attempts, done.max_attempts)


async def test_deferrals_never_exhaust_a_jobs_attempts(database: Database) -> None:
    """A job allowed a single attempt still finishes after Slack rate limits it: one ticket,
    one thread reply, and no failure notice."""
    async with (
        emulators() as (slack, gorgias),
        running_app(
            database, slack, gorgias, TICKETBOLT_JOB_MAX_ATTEMPTS=1, TICKETBOLT_SLACK_LIMITS="on"
        ) as stack,
    ):
        customer, agent = people(slack)
        channel = room(slack, "support", customer, agent)
        slack.faults.rate_limit("chat.postMessage", times=1, retry_after=1)
        ts = await slack.user_posts(customer, channel, "My order never arrived")
        await slack.user_reacts(agent, channel, ts, "ticket")
        job = await finished(stack, channel)
        [reply] = replies(channel, ts)
        [ticket] = gorgias.tickets.values()
        assert f"/app/ticket/{ticket['id']}" in str(reply.blocks)
        assert "done" == job.state
