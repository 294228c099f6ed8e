"""The UI snapshot, serving inside another aiohttp app, and the standalone command line."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from tests.integrations.slack.conftest import SECRET
from ticketbolt.integrations.slack.emulator import SlackEmulator, seed_demo

REPO = Path(__file__).resolve().parents[2]


async def test_snapshot_renders_threads_reactions_names_and_ephemerals(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """The snapshot is JSON with display names, nested replies, reactions and ephemerals."""
    ids = seed_demo(slack)
    support = slack.state.channels[ids["support"]]
    bob = slack.state.users[ids["bob"]]
    parent = slack.state.post(support, bob, "where is my order?")
    await client.chat_postMessage(channel=support.id, text="Ticket #1", thread_ts=parent.ts)
    await client.reactions_add(channel=support.id, timestamp=parent.ts, name="ticket")
    await client.chat_postEphemeral(channel=support.id, user=ids["alice"], text="psst")
    snap = json.loads(json.dumps(slack.snapshot()))
    channel = next(c for c in snap["channels"] if c["id"] == support.id)
    [message] = channel["messages"]
    assert ("Bob", "where is my order?", ["ticket"]) == (
        message["user_name"],
        message["text"],
        [r["name"] for r in message["reactions"]],
    )
    assert [("ticketbolt", "Ticket #1")] == [
        (r["user_name"], r["text"]) for r in message["replies"]
    ]
    assert ["psst"] == [e["text"] for e in channel["ephemeral"]]
    dm = next(c for c in snap["channels"] if c["id"] == ids["dm-bob"])
    assert ("@Bob", True) == (dm["name"], dm["is_im"])
    carol = next(u for u in snap["users"] if u["id"] == ids["carol"])
    assert carol["is_external"] is True


async def test_routes_serve_inside_another_app() -> None:
    """Mounted in a host app with `base_url` set, the API and hooks work on the host's port."""
    slack = SlackEmulator(SECRET)
    host = web.Application()
    host.add_routes(slack.routes())
    server = TestServer(host, host="127.0.0.1")
    await server.start_server()
    slack.base_url = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as session:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
            answer = await client.auth_test()
            async with session.get(f"{slack.base_url}emulator/snapshot") as response:
                snap = await response.json()
        assert (slack.bot_user.id, "T0TICKET") == (answer["user_id"], snap["team"]["id"])
    finally:
        await slack.aclose()
        await server.close()


async def test_command_line_serves_a_seeded_workspace() -> None:
    """The standalone emulator (`python -m …slack.emulator`) prints its API URL; auth.test works."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ticketbolt.integrations.slack.emulator",
        "--port",
        "0",
        "--signing-secret",
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            first_line = (await process.stdout.readline()).decode()
        api_url = first_line.split("SLACK_API_URL=")[1].split()[0]
        async with aiohttp.ClientSession() as session:
            client = AsyncWebClient(
                token="xoxb-ticketbolt-emulator", base_url=api_url, session=session
            )
            members = await client.users_lookupByEmail(email="bob@customer.example")
        assert "bob" == members["user"]["name"]
    finally:
        process.terminate()
        _, stderr = await process.communicate()
    assert b"RuntimeWarning" not in stderr
