"""`/ticketbolt assign`, `mine` and `channel` over real HTTP against the emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.handlers.test_commands import command, rendered
from tests.support.db import Database
from tests.support.stack import Stack, drained
from tests.support.triage import replies, triage_app
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User

VIP = "C0VIP"


@pytest.fixture
async def stack(database: Database, tmp_path: Path) -> AsyncIterator[Stack]:
    channels = (
        "sla_policies: {vip: {first_response: 15m}}\n"
        f"channels:\n  {VIP}: {{mode: emoji, tags: [vip, wholesale], priority: high,"
        " assignee_team: 12, sla: vip, alert_channel: C0LEADS}\n"
        "defaults: {mode: emoji}\n"
    )
    async with triage_app(database, tmp_path, channels) as running:
        running.gorgias.state.add_user("Alex Agent", "alex@ourteam.example")
        running.gorgias.state.add_user("Sam Agent", "sam@ourteam.example")
        yield running


def workspace(slack: SlackEmulator) -> tuple[User, User, User, Channel]:
    """A customer (not an agent), two agents with Gorgias users, and a support channel."""
    customer = slack.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    alex = slack.add_user("alex", email="alex@ourteam.example", user_id="UALEX")
    sam = slack.add_user("sam", email="sam@ourteam.example", user_id="USAM")
    channel = slack.add_channel("support", members=[customer, alex, sam])
    return customer, alex, sam, channel


def assignee_email(stack: Stack, ticket_id: int) -> Any:
    return (stack.gorgias.tickets[ticket_id]["assignee_user"] or {}).get("email")


def gorgias_ticket(stack: Stack, subject: str, *, to: str | None, age: timedelta,
                   status: str = "open") -> int:  # fmt: skip
    """A ticket made in the helpdesk itself, assigned to the user with e-mail `to`."""
    state = stack.gorgias.state
    user = next((u for u in state.users.values() if u["email"] == to), None)
    made = state.create_ticket(
        {
            "subject": subject,
            "status": status,
            "customer": {"email": "dana@shop.example"},
            "messages": [{"channel": "email", "via": "email", "from_agent": False,
                          "body_text": subject, "sender": {"email": "dana@shop.example"}}],
            "assignee_user": {"id": user["id"]} if user else None,
        }
    )  # fmt: skip
    created = (datetime.now(UTC) - age).isoformat()
    state.tickets[made["id"]]["created_datetime"] = created
    return int(made["id"])


async def test_assign_sets_the_assignee_and_says_so_in_the_ticket_thread(stack: Stack) -> None:
    """An agent assigns a ticketed message's ticket to a colleague (`#id`, escaped mention):
    Gorgias' assignee becomes the colleague's user and the thread names both."""
    slack = stack.slack
    customer, alex, _, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "My parcel is lost")
    await slack.user_reacts(alex, channel, ts, "ticket")
    await drained(stack)
    [ticket_id] = stack.gorgias.tickets
    _, answer = await command(slack, alex, channel, f"assign #{ticket_id} <@USAM|sam>")
    assert "sam@ourteam.example" == assignee_email(stack, ticket_id)
    assert "ephemeral" == answer["response_type"]
    expected = f"Ticket #{ticket_id} is now assigned to <@USAM>. The ticket's Slack thread says so."
    assert expected == answer["text"]
    assert f"/app/ticket/{ticket_id}|Ticket #{ticket_id}>" in rendered(answer)
    assert f"<@UALEX> assigned ticket #{ticket_id} to <@USAM>" == replies(channel, ts)[-1]
    _, again = await command(slack, alex, channel, f"assign {ticket_id} <@USAM>")
    assert f"Ticket #{ticket_id} was already assigned to <@USAM>; nothing changed." == again["text"]


async def test_assign_a_ticket_without_a_slack_thread_answers_only_the_caller(stack: Stack) -> None:
    """A ticket made in Gorgias has no thread: the assignee changes, only the caller is told."""
    _, alex, _, channel = workspace(stack.slack)
    ticket_id = gorgias_ticket(stack, "Refund", to=None, age=timedelta(hours=1))
    _, answer = await command(stack.slack, alex, channel, f"assign {ticket_id} <@UALEX|alex>")
    assert f"Ticket #{ticket_id} is now assigned to <@UALEX>." == answer["text"]
    assert "alex@ourteam.example" == assignee_email(stack, ticket_id)


@pytest.mark.parametrize(
    ("caller", "target", "expected"),
    [
        ("alex", "USAM", "Gorgias has no ticket #999."),
        ("alex", "UNOBODY", "Slack does not know the user UNOBODY"),
        ("alex", "UGUEST", "<@UGUEST> is not a member of this workspace"),
        ("alex", "UDANA", "Gorgias has no user with the e-mail dana@shop.example"),
        ("dana", "USAM", "Only agents can assign tickets"),
    ],
)
async def test_assign_refusals_say_why_and_change_nothing(
    stack: Stack, caller: str, target: str, expected: str
) -> None:
    """Unknown ticket, unknown Slack user, external user, no matching Gorgias user, a caller
    who is not an agent: each gets its own ephemeral answer and no assignee changes."""
    slack = stack.slack
    customer, alex, _, channel = workspace(slack)
    slack.add_user("guest", email="sam@ourteam.example", team_id="TOTHER", user_id="UGUEST")
    ticket_id = gorgias_ticket(stack, "Refund", to=None, age=timedelta(hours=1))
    dana = slack.add_user("dana2", email="dana@shop.example", user_id="UDANA")
    channel.members.append(dana.id)
    wanted = 999 if "999" in expected else ticket_id
    who = alex if caller == "alex" else customer
    _, answer = await command(slack, who, channel, f"assign {wanted} <@{target}>")
    assert expected in answer["text"]
    assert "ephemeral" == answer["response_type"]
    assert None is assignee_email(stack, ticket_id)


@pytest.mark.parametrize(
    "text",
    ["assign", "assign 12", "assign abc <@USAM>", "assign 12 @sam", "assign 0 <@USAM>", "mine x"],
)
async def test_malformed_triage_commands_show_usage_at_once(stack: Stack, text: str) -> None:
    """A malformed `assign` (or `mine` with words after it) gets the usage in the ack."""
    _, alex, _, channel = workspace(stack.slack)
    ack = await stack.slack.slash_command(alex, channel, text=text)
    assert ack.json()["text"].startswith("Usage: /ticketbolt")
    assert "assign <id> @user" in ack.json()["text"]
    assert [] == stack.slack.hook_posts


async def test_mine_lists_only_the_callers_open_tickets_newest_first(stack: Stack) -> None:
    """`mine` lists the caller's open tickets, newest first, with links and age; closed ones,
    colleagues' and unassigned ones are left out."""
    _, alex, _, channel = workspace(stack.slack)
    old = gorgias_ticket(stack, "Old one", to="alex@ourteam.example", age=timedelta(days=3))
    new = gorgias_ticket(stack, "New one", to="alex@ourteam.example", age=timedelta(hours=2))
    gorgias_ticket(
        stack, "Done", to="alex@ourteam.example", age=timedelta(hours=1), status="closed"
    )
    gorgias_ticket(stack, "Sam's", to="sam@ourteam.example", age=timedelta(minutes=5))
    gorgias_ticket(stack, "Nobody's", to=None, age=timedelta(minutes=1))
    _, answer = await command(stack.slack, alex, channel, "mine")
    assert "ephemeral" == answer["response_type"]
    lines = answer["text"].splitlines()
    assert ["2 open tickets assigned to you:", f"#{new} New one · 2h old",
            f"#{old} Old one · 3d old"] == lines  # fmt: skip
    shown = rendered(answer)
    assert f"/app/ticket/{new}|#{new}>" in shown
    assert shown.index(f"|#{new}>") < shown.index(f"|#{old}>")


async def test_mine_without_a_gorgias_user_names_the_email_tried(stack: Stack) -> None:
    """A member whose e-mail has no Gorgias user is told which e-mail was looked for."""
    customer, _, _, channel = workspace(stack.slack)
    _, answer = await command(stack.slack, customer, channel, "mine")
    assert "Gorgias has no user with the e-mail dana@shop.example" in answer["text"]


async def test_channel_shows_the_listed_channels_settings(stack: Stack) -> None:
    """In a channel the file names, `channel` shows its mode, tags, priority, team, SLA policy
    and alert channel."""
    customer, alex, _, _ = workspace(stack.slack)
    vip = stack.slack.add_channel("vip", members=[customer, alex], channel_id=VIP)
    _, answer = await command(stack.slack, alex, vip, "channel")
    assert "ephemeral" == answer["response_type"]
    lines = answer["text"].splitlines()
    assert lines[0].startswith(f"<#{VIP}>: Settings for this channel from ")
    assert ["Mode: emoji", "Tags: vip, wholesale", "Priority: high",
            "Assignee team: Gorgias team 12", "SLA policy: vip",
            "Alert channel: <#C0LEADS>"] == lines[1:]  # fmt: skip


async def test_channel_not_in_the_file_shows_the_defaults(stack: Stack) -> None:
    """A channel the file does not name says so and shows the defaults."""
    _, alex, _, channel = workspace(stack.slack)
    _, answer = await command(stack.slack, alex, channel, "channel")
    lines = answer["text"].splitlines()
    assert "is not listed in" in lines[0]
    assert "Mode: emoji" == lines[1]
    assert "Tags: none" == lines[2]


async def test_channel_for_an_external_user_is_refused(stack: Stack) -> None:
    """A Slack Connect user gets the members-only refusal."""
    _, _, _, channel = workspace(stack.slack)
    guest = stack.slack.add_user("guest", team_id="TOTHER")
    channel.members.append(guest.id)
    _, answer = await command(stack.slack, guest, channel, "channel")
    assert "Only members of this workspace can use /ticketbolt." == answer["text"]


async def test_mine_is_bounded_and_says_when_the_scan_was_cut_short(stack: Stack) -> None:
    """With more than 20 of your tickets and more tickets than the scan reads, `mine` shows the
    20 newest and says both that you have more and that older tickets were not checked."""
    _, alex, _, channel = workspace(stack.slack)
    for n in range(490):
        gorgias_ticket(stack, f"Other {n}", to=None, age=timedelta(days=9))
    for n in range(22):
        gorgias_ticket(stack, f"Mine {n}", to="alex@ourteam.example", age=timedelta(hours=30 - n))
    _, answer = await command(stack.slack, alex, channel, "mine")
    lines = answer["text"].splitlines()
    assert "20 open tickets assigned to you:" == lines[0]
    assert lines[1].endswith("Mine 21 · 9h old")
    assert lines[20].endswith("Mine 2 · 1d 4h old")
    assert "Showing the 20 newest; you have more." == lines[21]
    assert lines[22].startswith("Only the 500 most recently updated tickets were checked")
