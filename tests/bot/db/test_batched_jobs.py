"""Claims for several lanes and completions of several jobs, each in one transaction."""

from __future__ import annotations

from tests.support.db import Database
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.turns import HISTORY, Turns


async def test_one_claim_serves_each_lane_its_kinds_up_to_its_free_slots(
    database: Database,
) -> None:
    """Each (limit, kinds) gets only its kinds, at most `limit` of them; a lane without free
    slots or without kinds gets nothing."""
    queue = JobQueue(database.sessions)
    for n in range(5):
        await queue.enqueue("assistant_reply", {}, key=f"a{n}")
        await queue.enqueue("create_ticket", {}, key=f"t{n}")
    replies, tickets, none, empty = await queue.claim_each(
        "w", [(3, {"assistant_reply"}), (10, {"create_ticket"}), (0, {"x"}), (5, set())]
    )
    assert (["assistant_reply"] * 3, ["create_ticket"] * 5, [], []) == (
        [job.kind for job in replies],
        [job.kind for job in tickets],
        none,
        empty,
    )


async def test_completing_together_passes_each_conversation_to_its_next_message(
    database: Database,
) -> None:
    """Two conversations' first messages done in one call: each one's second message is
    claimable next, and a job whose lease another worker holds is left running."""
    queue = JobQueue(database.sessions)
    for conversation in ("a", "b", "c"):
        for n in (1, 2):
            await queue.enqueue(
                "assistant_reply", {"n": n}, key=f"{conversation}{n}", order_key=conversation
            )
    first_a, first_b = await queue.claim("w1", limit=2)
    [first_c] = await queue.claim("w2", limit=10)
    assert {first_a.id, first_b.id} == await queue.complete_each([first_a, first_b, first_c], "w1")
    following = await queue.claim("w1", limit=10)
    assert [("a", 2), ("b", 2)] == [(job.order_key, job.payload["n"]) for job in following]
    still = await queue.get(first_c.id)
    assert "running" == (still.state if still else None)


async def test_recent_finds_a_handoff_older_than_the_history_it_reads(
    database: Database,
) -> None:
    """The latest hand-off turn comes with the history: from it when the history holds the
    whole conversation, read apart when the conversation is longer."""
    turns = Turns(database.sessions)
    await turns.add("short", "h1", "handoff", "assistant", "opened")
    await turns.add("short", "1", "customer", "U1", "hello")
    history, handoff = await turns.recent("short", "handoff")
    assert (["h1", "1"], "h1") == (
        [t.message_ts for t in history],
        handoff.message_ts if handoff else None,
    )
    await turns.add("long", "h1", "handoff", "assistant", "opened")
    await turns.add_each(
        "long", [(str(n), "customer", "U1", f"message {n}", None) for n in range(HISTORY)]
    )
    history, handoff = await turns.recent("long", "handoff")
    assert (HISTORY, "0", "h1") == (
        len(history),
        history[0].message_ts,
        handoff.message_ts if handoff else None,
    )
