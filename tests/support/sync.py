"""Thread-sync scenes shared by the sync and agent-identity tests: the Gorgias webhook hooked up,
a customer and an agent in a support channel, ticketed messages, and waiting until all settles."""

from __future__ import annotations

from tests.support.stack import Stack, drained, eventually
from ticketbolt.integrations.gorgias.emulator.state import Json
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User

TOKEN = "gorgias-webhook-secret"


def webhook_url(stack: Stack) -> str:
    return f"{stack.url}/gorgias/webhook"


async def hook_up(stack: Stack) -> None:
    """What `ticketbolt gorgias register-webhook` does (tested below): Gorgias now calls us."""
    assert stack.runtime.gorgias is not None
    await stack.runtime.gorgias.register_http_integration(
        "ticketbolt", webhook_url(stack), {"X-Ticketbolt-Token": TOKEN}
    )


def workspace(slack: SlackEmulator) -> tuple[User, User, Channel]:
    customer = slack.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    agent = slack.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    channel = slack.add_channel("support", members=[customer, agent])
    return customer, agent, channel


async def settle(stack: Stack) -> None:
    """Wait until nothing moves: webhooks delivered, Slack events answered, the queue empty."""
    before: tuple[int, ...] = ()
    while True:
        await stack.gorgias.wait_webhooks_idle()
        await stack.slack.drain()
        await drained(stack)
        now = (
            len(stack.gorgias.deliveries),
            len(stack.slack.deliveries),
            len(stack.slack.calls),
            len(stack.gorgias.requests),
        )
        if now == before:
            return
        before = now


async def ticketed(
    stack: Stack, author: User, agent: User, channel: Channel, text: str
) -> tuple[str, int]:
    """`author` posts, `agent` reacts 🎫; the message ts and its ticket id once all is settled."""
    ts = await stack.slack.user_posts(author, channel, text)
    return ts, await ticket_for(stack, agent, channel, ts)


async def ticket_for(stack: Stack, agent: User, channel: Channel, ts: str) -> int:
    await stack.slack.user_reacts(agent, channel, ts, "ticket")
    await eventually(lambda: "eyes" in channel.messages[ts].reactions, what="the ticket marker")
    await settle(stack)
    link = await stack.runtime.links.get(stack.slack.state.team_id, channel.id, ts)
    assert link is not None
    assert link.ticket_id is not None
    return link.ticket_id


def messages(stack: Stack, ticket_id: int) -> list[Json]:
    return sorted(stack.gorgias.state.ticket_messages(ticket_id), key=lambda m: m["id"])


def from_slack(stack: Stack, ticket_id: int) -> list[Json]:
    return [m for m in messages(stack, ticket_id) if (m["external_id"] or "").startswith("slack:")]


async def edited_reply(
    stack: Stack, text: str, reply: str, edited: str
) -> tuple[User, Channel, int, str]:
    """The customer posts `text`, the agent tickets it, replies `reply` in its thread and edits
    the reply to `edited`, each step settled: the agent, the channel, the ticket and the reply."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, text)
    reply_ts = await stack.slack.user_posts(agent, channel, reply, ts)
    await settle(stack)
    await stack.slack.user_edits(agent, channel, reply_ts, edited)
    await settle(stack)
    return agent, channel, ticket_id, reply_ts
