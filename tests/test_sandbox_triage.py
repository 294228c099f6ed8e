"""The sandbox shows triage: the 🙋 claim button, the ticket message's "Take it" and "Assign…"
controls (signed block_actions through the emulated Slack), and an `auto` channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.stack import eventually
from tests.test_sandbox import Visitor, replies_text, running_sandbox


@pytest.fixture
async def visitor() -> AsyncIterator[Visitor]:
    async with running_sandbox() as running, aiohttp.ClientSession() as http:
        yield Visitor(http, running)


async def tickets(visitor: Visitor) -> list[dict[str, Any]]:
    return list((await visitor.state())["tickets"])


async def ticketed(visitor: Visitor, text: str) -> tuple[str, str, dict[str, Any]]:
    """The customer posts in #support and the agent reacts 🎫: the channel, the message's ts
    and the bot's ticket message (with its controls) once it is in the thread."""
    support = (await visitor.channel("support"))["id"]
    _, posted = await visitor.act("post", **{"as": "customer"}, channel=support, text=text)
    ts = posted["ts"]
    await visitor.act("react", **{"as": "agent"}, channel=support, ts=ts, name="ticket")

    async def reply() -> dict[str, Any] | None:
        message = await visitor.message("support", ts)
        return next((r for r in message["replies"] if r.get("blocks")), None)

    await eventually(reply, timeout=30, what="the ticket message")
    found = await reply()
    assert found is not None
    return support, ts, found


async def test_the_page_offers_the_claim_reaction(visitor: Visitor) -> None:
    """The page's reaction buttons include the claim reaction beside 🎫 and ✅."""
    reactions = (await visitor.state())["reactions"]
    assert ("ticket", "white_check_mark", "raising_hand") == (
        reactions["create"],
        reactions["resolve"],
        reactions["claim"],
    )


async def test_take_it_assigns_the_agent_and_claim_reaction_removal_unassigns(
    visitor: Visitor,
) -> None:
    """ "Take it" on the bot's ticket message assigns the ticket to Alice (the Gorgias panel
    shows it, the thread says so); her 🙋 then its removal unassigns it."""
    support, ts, ticket_message = await ticketed(visitor, "My screen arrived cracked")
    controls = [
        e for b in ticket_message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert ["Take it", "Assign…"] == [
        (e.get("text") or e.get("placeholder"))["text"] for e in controls
    ]
    status, answer = await visitor.act(
        "click",
        **{"as": "agent"},
        channel=support,
        ts=ticket_message["ts"],
        action_id="ticketbolt_take_it",
    )
    assert (200, {"status": 200}) == (status, answer)

    async def assignee() -> str:
        [ticket] = await tickets(visitor)
        return str(ticket["assignee"])

    await eventually(lambda: _is(assignee, "Alice Agent"), timeout=30, what="the assignee")

    async def thread_says_so() -> bool:  # posted after Gorgias took the assignee
        return "took ticket #1" in replies_text(await visitor.message("support", ts))

    await eventually(thread_says_so, timeout=30, what="the thread naming Alice")
    await visitor.act("react", **{"as": "agent"}, channel=support, ts=ts, name="raising_hand")
    await visitor.act("unreact", **{"as": "agent"}, channel=support, ts=ts, name="raising_hand")
    await eventually(lambda: _is(assignee, ""), timeout=30, what="the ticket unassigned")


async def _is(read: Any, expected: str) -> bool:
    return bool(expected == await read())


async def test_assign_picker_answers_the_agent_alone(visitor: Visitor) -> None:
    """Picking Bob (who has no Gorgias user) in "Assign…" tells the agent why, only her."""
    support, _, ticket_message = await ticketed(visitor, "Wrong colour")
    people = (await visitor.state())["people"]
    status, _ = await visitor.act(
        "click",
        **{"as": "agent"},
        channel=support,
        ts=ticket_message["ts"],
        action_id="ticketbolt_assign",
        selected_user=people["customer"],
    )
    assert 200 == status

    async def told() -> list[dict[str, Any]]:
        return list((await visitor.channel("support"))["ephemeral"])

    await eventually(told, timeout=30, what="the answer to the agent")
    [answer] = await told()
    assert (people["agent"], True) == (
        answer["user"],
        "Gorgias has no user with the e-mail bob@customer.example" in answer["text"],
    )
    [ticket] = await tickets(visitor)
    assert "" == ticket["assignee"]


async def test_clicks_on_what_a_message_does_not_show_are_refused(visitor: Visitor) -> None:
    """Only a message's own controls can be clicked, and only people of the workspace picked."""
    support, _, ticket_message = await ticketed(visitor, "Lost parcel")
    body = {"as": "agent", "channel": support, "ts": ticket_message["ts"]}
    assert 404 == (await visitor.act("click", **body, action_id="delete_everything"))[0]
    refused = await visitor.act(
        "click", **body, action_id="ticketbolt_assign", selected_user="U404"
    )
    assert 400 == refused[0]


async def test_the_auto_channel_tickets_customer_messages_only(visitor: Visitor) -> None:
    """#orders is an `auto` channel: the customer's message becomes a ticket tagged `orders`;
    the agent's does not."""
    orders = (await visitor.channel("orders"))["id"]
    await visitor.act("post", **{"as": "agent"}, channel=orders, text="Shipping is slow today")
    await visitor.act("post", **{"as": "customer"}, channel=orders, text="Where is order 88?")

    async def made() -> list[dict[str, Any]]:
        return await tickets(visitor)

    await eventually(made, timeout=30, what="the auto ticket")
    [ticket] = await made()
    assert ("Where is order 88?", True) == (ticket["subject"], "orders" in ticket["tags"])
