"""No loss and no duplicates while Gorgias misbehaves and then goes down."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.db import Database
from tests.support.stack import emulators, eventually, running_app


async def test_two_hundred_reactions_through_faults_and_an_outage(database: Database) -> None:
    """200 messages reacted at once while Gorgias answers 30 % 5xx/429, then is down for a
    while: after recovery there are exactly 200 tickets, one per message."""
    async with emulators() as (slack, gorgias):
        state = slack.state
        customer = state.add_user("casey", email="casey@shop.example")
        agent = state.add_user("alex")
        channel = state.add_channel("support", members=[customer.id, agent.id, slack.bot_user.id])
        stamps = [state.post(channel, customer, f"Order {i} is late").ts for i in range(200)]
        gorgias.faults.error_rate = 0.15
        gorgias.faults.rate_limit_rate = 0.15
        async with running_app(
            database,
            slack,
            gorgias,
            TICKETBOLT_JOB_MAX_ATTEMPTS=200,
            TICKETBOLT_BREAKER_RESET_SECONDS=0.3,
            TICKETBOLT_WORKER_CONCURRENCY=8,
        ) as stack:
            results = await asyncio.gather(
                *(
                    slack.deliver(
                        slack.make_event_envelope(
                            {
                                "type": "reaction_added",
                                "user": agent.id,
                                "reaction": "ticket",
                                "item": {"type": "message", "channel": channel.id, "ts": ts},
                                "event_ts": ts,
                            }
                        )
                    )
                    for ts in stamps
                )
            )
            assert {200} == {r.status for r in results}
            await eventually(lambda: len(gorgias.tickets) >= 20, timeout=60, what="first tickets")
            gorgias.faults.outage = True
            assert stack.runtime.gorgias is not None
            client = stack.runtime.gorgias
            await eventually(lambda: client.breaker_state == "open", what="the breaker to open")

            def failed_attempts() -> float:
                labels = {"kind": "create_ticket", "outcome": "retry"}
                sample = stack.runtime.metrics.registry.get_sample_value(
                    "ticketbolt_jobs_total", labels
                )
                return sample or 0.0

            requests_before, attempts_before = gorgias.count("*"), failed_attempts()
            await eventually(
                lambda: failed_attempts() - attempts_before >= 60,
                timeout=60,
                what="job attempts failing while Gorgias is down",
            )
            requests = gorgias.count("*") - requests_before
            attempts = failed_attempts() - attempts_before
            gorgias.faults.outage = False
            gorgias.faults.error_rate = gorgias.faults.rate_limit_rate = 0.0

            async def drained() -> bool:
                states = (await stack.runtime.queue.stats())["by_state"]
                return states["queued"] + states["running"] == 0

            await eventually(drained, timeout=120, what="the queue to drain after recovery")
            stats = await stack.runtime.queue.stats()
    external_ids = sorted(t["external_id"] for t in gorgias.tickets.values())
    assert 200 == len(external_ids)
    assert 200 == len(set(external_ids))
    assert 0 == stats["by_state"]["failed"]
    # With the circuit open, most attempts failed fast without reaching the Gorgias that was down.
    assert requests < attempts


async def test_a_job_that_keeps_failing_ends_failed_with_a_notice_and_can_be_retried(
    database: Database,
) -> None:
    """Gorgias down past the last attempt: the job ends `failed`, the thread says so in plain
    words, and an operator's retry creates the ticket once Gorgias is back."""
    async with emulators() as (slack, gorgias):
        state = slack.state
        customer = state.add_user("casey", email="casey@shop.example")
        agent = state.add_user("alex")
        channel = state.add_channel("support", members=[customer.id, agent.id, slack.bot_user.id])
        gorgias.faults.outage = True
        async with running_app(
            database,
            slack,
            gorgias,
            TICKETBOLT_JOB_MAX_ATTEMPTS=2,
            TICKETBOLT_BREAKER_RESET_SECONDS=0.1,
        ) as stack:
            ts = await slack.user_posts(customer, channel, "Package never came")
            await slack.user_reacts(agent, channel, ts, "ticket")

            def notices() -> list[str]:
                return [
                    m.text
                    for m in channel.messages.values()
                    if m.thread_ts == ts and m.user == slack.bot_user.id
                ]

            await eventually(lambda: len(notices()) == 1, timeout=60, what="the failure notice")
            assert "Could not create a ticket: Gorgias could not be reached" in notices()[0]

            async def failed_jobs() -> list[Any]:
                return await stack.runtime.queue.list("failed")

            await eventually(failed_jobs, what="the job to be marked failed")
            [failed] = await failed_jobs()
            assert {} == gorgias.tickets
            gorgias.faults.outage = False
            assert await stack.runtime.queue.requeue(failed.id)
            await eventually(lambda: len(gorgias.tickets) == 1, timeout=60, what="the ticket")
