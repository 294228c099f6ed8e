"""`python -m integrations.slack.emulator`: a seeded emulated workspace served until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from integrations.slack.emulator import SlackEmulator


def seed_demo(slack: SlackEmulator) -> dict[str, str]:
    """A small support workspace: an agent, a customer, an external partner, channels and a DM."""
    alice = slack.add_user(
        "alice", real_name="Alice Agent", display_name="Alice", email="alice@ticketbolt.example"
    )
    bob = slack.add_user(
        "bob", real_name="Bob Buyer", display_name="Bob", email="bob@customer.example"
    )
    carol = slack.add_user(
        "carol", real_name="Carol Partner", email="carol@partner.example", team_id="T0PARTNER"
    )
    support = slack.add_channel("support", members=[alice.id, bob.id])
    general = slack.add_channel("general", members=[alice.id, bob.id])
    shared = slack.add_channel("ext-partner", members=[alice.id, carol.id], is_ext_shared=True)
    dm = slack.open_dm(bob)
    return {
        "alice": alice.id,
        "bob": bob.id,
        "carol": carol.id,
        "support": support.id,
        "general": general.id,
        "ext-partner": shared.id,
        "dm-bob": dm.id,
    }


async def _serve(args: argparse.Namespace) -> None:
    slack = SlackEmulator(args.signing_secret, args.bot_token, events_url=args.events_url)
    ids = seed_demo(slack)
    await slack.start(args.host, args.port)
    print(f"Slack emulator: SLACK_API_URL={slack.api_url} events to {slack.events_url}")
    print(f"workspace: {ids}")
    try:
        await asyncio.Event().wait()
    finally:
        await slack.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m integrations.slack.emulator`: serve a seeded workspace until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--events-url", default="http://127.0.0.1:3000/slack/events")
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--bot-token", default="xoxb-ticketbolt-emulator")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
