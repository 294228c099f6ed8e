"""Clicks on a message's buttons and pickers (`block_actions`), and `team.info` for Slack
Connect organisations, as the emulated Slack sends and answers them."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.integrations.slack.conftest import Receiver
from ticketbolt.integrations.slack.emulator import SlackEmulator

CONTROLS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Ticket #7 opened"}},
    {
        "type": "actions",
        "block_id": "triage:7",
        "elements": [
            {"type": "button", "action_id": "take", "value": "7",
             "text": {"type": "plain_text", "text": "Take it"}},
            {"type": "users_select", "action_id": "assign",
             "placeholder": {"type": "plain_text", "text": "Assign…"}},
        ],
    },
]  # fmt: skip


async def test_a_click_is_a_signed_block_actions_payload_naming_the_element(
    slack: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    """A button click carries the button's action, block, text and value, the message, its
    container and a response_url; a pick in a users_select carries `selected_user`, in the
    action and in the state."""
    alice = slack.add_user("alice")
    support = slack.add_channel("support", members=[alice])
    parent = await slack.user_posts(alice, support, "My parcel is lost")
    posted = await client.chat_postMessage(
        channel=support.id, thread_ts=parent, text="Ticket #7 opened", blocks=CONTROLS
    )
    await slack.block_action(alice, support, posted["ts"], "take")
    await slack.block_action(alice, support, posted["ts"], "assign", selected_user=alice.id)
    bodies = [r.json() for r in receiver.received if r.verified]
    click, pick = [b for b in bodies if b.get("type") == "block_actions"]
    assert ("block_actions", alice.id, support.id, posted["ts"], parent) == (
        click["type"],
        click["user"]["id"],
        click["channel"]["id"],
        click["message"]["ts"],
        click["container"]["thread_ts"],
    )
    assert {"type": "button", "action_id": "take", "block_id": "triage:7", "value": "7",
            "text": {"type": "plain_text", "text": "Take it"}} == {
        k: v for k, v in click["actions"][0].items() if k != "action_ts"
    }  # fmt: skip
    assert click["response_url"].startswith(f"{slack.base_url}hooks/")
    assert alice.id == pick["actions"][0]["selected_user"]
    assert alice.id == pick["state"]["values"]["triage:7"]["assign"]["selected_user"]


async def test_only_the_messages_own_elements_can_be_clicked(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A person can click only what the message shows."""
    alice = slack.add_user("alice")
    support = slack.add_channel("support", members=[alice])
    posted = await client.chat_postMessage(channel=support.id, text="hi", blocks=CONTROLS)
    with pytest.raises(KeyError):
        await slack.block_action(alice, support, posted["ts"], "delete_everything")


async def test_team_info_names_this_workspace_and_slack_connect_organisations(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """`team.info` answers for the workspace, for a known partner organisation, and
    `team_not_found` for any other team."""
    slack.state.add_team("T0PARTNER", "Partner Co")
    own = (await client.team_info())["team"]
    partner = (await client.team_info(team="T0PARTNER"))["team"]
    assert ("T0TICKET", "Ticketbolt Sandbox") == (own["id"], own["name"])
    assert ("T0PARTNER", "Partner Co") == (partner["id"], partner["name"])
    with pytest.raises(SlackApiError) as raised:
        await client.team_info(team="T0NOBODY")
    assert "team_not_found" == raised.value.response["error"]
