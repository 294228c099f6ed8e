"""The smallest Slack scene: a customer, an agent and a support channel the bot is in."""

from __future__ import annotations

from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User


def workspace(slack: SlackEmulator) -> tuple[User, User, Channel]:
    state = slack.state
    customer = state.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    agent = state.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    channel = state.add_channel("support", members=[customer.id, agent.id, slack.bot_user.id])
    return customer, agent, channel
