"""`python -m ticketbolt.integrations.slack.emulator`: a seeded workspace, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from ticketbolt.integrations.slack.emulator.app import SlackEmulator
from ticketbolt.integrations.slack.emulator.seed import seed_demo


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
    """Serve a seeded workspace until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--events-url", default="http://127.0.0.1:3000/slack/events")
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--bot-token", default="xoxb-ticketbolt-emulator")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


main()
