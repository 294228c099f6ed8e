"""The sandbox (`ticketbolt run` without credentials): its page API drives the real service."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.stack import eventually
from ticketbolt.bot.sandbox.run import RunningSandbox, run_sandbox, self_url
from ticketbolt.bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


class Visitor:
    """What the sandbox page does, over HTTP: read the state, post, react, run commands."""

    def __init__(self, http: aiohttp.ClientSession, running: RunningSandbox):
        self.http, self.url, self.running = http, running.url, running

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}sandbox/api/state") as response:
            assert 200 == response.status
            return dict(await response.json())

    async def act(self, kind: str, **body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.url}sandbox/api/{kind}", json=body) as response:
            return response.status, dict(await response.json())

    async def channel(self, name: str) -> dict[str, Any]:
        [found] = [c for c in (await self.state())["slack"]["channels"] if c["name"] == name]
        return dict(found)

    async def message(self, channel: str, ts: str) -> dict[str, Any]:
        [found] = [m for m in (await self.channel(channel))["messages"] if m["ts"] == ts]
        return dict(found)


@asynccontextmanager
async def running_sandbox(**settings: Any) -> AsyncIterator[RunningSandbox]:
    """The sandbox served in-process on an ephemeral port until the block ends."""
    config = load_settings(
        {
            "TICKETBOLT_PORT": 0,
            "TICKETBOLT_LOG_LEVEL": "INFO",
            "TICKETBOLT_JOB_POLL_INTERVAL": 0.05,
            **settings,
        }
    )
    stop = asyncio.Event()
    ready: asyncio.Future[RunningSandbox] = asyncio.get_running_loop().create_future()

    async def on_ready(running: RunningSandbox) -> None:
        ready.set_result(running)

    task = asyncio.create_task(run_sandbox(config, stop=stop, on_ready=on_ready))
    done, _ = await asyncio.wait({task, ready}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    assert ready in done, task.exception() if task in done else "the sandbox did not start"
    try:
        yield ready.result()
    finally:
        stop.set()
        assert 0 == await task


@pytest.fixture
async def visitor() -> AsyncIterator[Visitor]:
    """A running sandbox and an HTTP client for its page API."""
    async with running_sandbox() as running, aiohttp.ClientSession() as http:
        yield Visitor(http, running)


def replies_text(message: dict[str, Any]) -> str:
    return "\n".join(f"{r['text']} {r.get('blocks')}" for r in message.get("replies") or [])


async def test_ticket_reaction_opens_a_ticket_and_check_closes_it(visitor: Visitor) -> None:
    """A customer message, 🎫 by the agent → a thread reply with the ticket number and an open
    ticket in the emulated Gorgias; ✅ → the ticket is closed and the thread says so."""
    support = (await visitor.channel("support"))["id"]
    status, posted = await visitor.act(
        "post", **{"as": "customer"}, channel=support, text="My parcel never arrived, order 7781"
    )
    assert 200 == status
    ts = posted["ts"]
    status, _ = await visitor.act("react", **{"as": "agent"}, channel=support, ts=ts, name="ticket")
    assert 200 == status

    async def ticketed() -> bool:
        return "Ticket #1" in replies_text(await visitor.message("support", ts))

    await eventually(ticketed, timeout=30, what="the thread reply with the ticket number")
    [ticket] = (await visitor.state())["tickets"]
    assert (1, "open") == (ticket["id"], ticket["status"])
    assert "My parcel never arrived, order 7781" in ticket["messages"][0]["body"]
    assert "Bob" == ticket["customer"]

    await visitor.act("react", **{"as": "agent"}, channel=support, ts=ts, name="white_check_mark")

    async def closed() -> bool:
        [ticket] = (await visitor.state())["tickets"]
        return bool(ticket["status"] == "closed")

    await eventually(closed, timeout=30, what="the ticket closed")
    await eventually(ticketed, timeout=5)
    message = await visitor.message("support", ts)
    assert {"ticket", "white_check_mark"} <= {r["name"] for r in message["reactions"]}


async def test_help_is_answered_at_once_and_status_on_the_response_url(visitor: Visitor) -> None:
    """`/ticketbolt help` is answered in the command's HTTP answer; `status` is acknowledged,
    then its report arrives on the response_url as an ephemeral for the visitor."""
    support = (await visitor.channel("support"))["id"]
    status, help_answer = await visitor.act(
        "command", **{"as": "agent"}, channel=support, text="help"
    )
    assert 200 == status
    assert 200 == help_answer["status"]
    assert "/ticketbolt status" in f"{help_answer['answer']}"
    [shown] = (await visitor.state())["commands"]
    assert ("/ticketbolt help", help_answer["answer"]) == (shown["command"], shown["answer"])

    await visitor.act("command", **{"as": "agent"}, channel=support, text="status")

    async def reported() -> bool:
        return any(
            e["source"] == "response_url" for e in (await visitor.channel("support"))["ephemeral"]
        )

    await eventually(reported, timeout=30, what="the status report")
    [report] = (await visitor.channel("support"))["ephemeral"]
    assert "Gorgias" in f"{report['text']} {report['blocks']}"


async def test_a_direct_message_to_the_bot_is_answered(visitor: Visitor) -> None:
    """The customer writes to the bot in the DM; the assistant answers there (or hands off)."""
    dm = (await visitor.channel("@Bob"))["id"]
    status, _ = await visitor.act(
        "post", **{"as": "customer"}, channel=dm, text="How long does shipping take?"
    )
    assert 200 == status
    bot = (await visitor.state())["slack"]["bot"]["user_id"]

    async def answered() -> bool:
        return any(m.get("user") == bot for m in (await visitor.channel("@Bob"))["messages"])

    await eventually(answered, timeout=30, what="the assistant's answer in the DM")


async def test_page_is_served_whole_from_this_machine(visitor: Visitor) -> None:
    """`/` and its script and style are served locally and load nothing from elsewhere."""
    for path, kind in (
        ("", "text/html"),
        ("sandbox/static/app.js", "text/javascript"),
        ("sandbox/static/dom.js", "text/javascript"),
        ("sandbox/static/mrkdwn.js", "text/javascript"),
        ("sandbox/static/modal.js", "text/javascript"),
        ("sandbox/static/app.css", "text/css"),
    ):
        async with visitor.http.get(f"{visitor.url}{path}") as response:
            assert (200, kind) == (response.status, response.content_type)
            assert "://" not in await response.text()
    async with visitor.http.get(f"{visitor.url}") as response:
        assert "nothing leaves this machine" in await response.text()
    async with visitor.http.get(f"{visitor.url}sandbox/static/..%2Fsandbox.py") as response:
        assert 404 == response.status


async def test_page_api_refuses_what_it_cannot_act_on(visitor: Visitor) -> None:
    """Unknown roles, channels and messages are refused; so is anything but JSON, which keeps
    other web sites from posting into the sandbox with a plain form."""
    support = (await visitor.channel("support"))["id"]
    assert 400 == (await visitor.act("post", **{"as": "ceo"}, channel=support, text="hi"))[0]
    assert 404 == (await visitor.act("post", **{"as": "agent"}, channel="C404", text="hi"))[0]
    assert (
        404
        == (
            await visitor.act("react", **{"as": "agent"}, channel=support, ts="1.0", name="ticket")
        )[0]
    )
    assert (
        400
        == (
            await visitor.act(
                "react", **{"as": "agent"}, channel=support, ts="1.0", name="<script>"
            )
        )[0]
    )
    form = {"as": "agent", "channel": support, "text": "forged"}
    async with visitor.http.post(f"{visitor.url}sandbox/api/post", data=form) as response:
        assert 400 == response.status
    texts = [m["text"] for m in (await visitor.channel("support"))["messages"]]
    assert "forged" not in texts


async def test_the_seeded_conversation_is_there_at_once(visitor: Visitor) -> None:
    """The page opens on a workspace with people, channels, the DM and customer messages."""
    state = await visitor.state()
    names = {c["name"] for c in state["slack"]["channels"]}
    assert {"support", "general", "@Bob"} <= names
    authors = {m["user_name"] for m in (await visitor.channel("support"))["messages"]}
    assert {"Bob", "Alice"} <= authors
    assert [] == state["tickets"]


async def test_the_create_ticket_shortcut_opens_a_modal_whose_submission_makes_the_ticket(
    visitor: Visitor,
) -> None:
    """The message shortcut reaches the app signed, the app opens its form for the visitor;
    an empty subject comes back as a field error, a filled form creates the ticket."""
    support = (await visitor.channel("support"))["id"]
    _, posted = await visitor.act(
        "post", **{"as": "customer"}, channel=support, text="*Wrong size* sent, order 3310"
    )
    ts = posted["ts"]
    status, answer = await visitor.act(
        "shortcut", **{"as": "agent"}, channel=support, ts=ts, callback_id="create_ticket"
    )
    assert (200, {"status": 200}) == (status, answer)
    agent = (await visitor.state())["people"]["agent"]

    async def modal() -> dict[str, Any] | None:
        return (await visitor.state())["modals"].get(agent)

    await eventually(modal, timeout=30, what="the Create ticket modal")
    form = await modal()
    assert form is not None
    assert "create_ticket_form" == form["callback_id"]
    initial = {b["block_id"]: b["element"].get("initial_value") for b in form["blocks"]}
    assert ("Wrong size sent, order 3310", "Wrong size sent, order 3310") == (
        initial["subject"],
        initial["body"],
    )

    status, answer = await visitor.act(
        "submit", **{"as": "agent"}, view_id=form["id"], values={"subject": " "}
    )
    assert (200, {"subject": "Enter a subject."}) == (status, answer["errors"])
    values = {"subject": "Wrong size", "body": "Sent M, ordered L", "priority": "high"}
    status, answer = await visitor.act(
        "submit", **{"as": "agent"}, view_id=form["id"], values=values | {"tags": "returns"}
    )
    assert (200, {}) == (status, answer["errors"])

    async def created() -> bool:
        return bool((await visitor.state())["tickets"])

    await eventually(created, timeout=30, what="the ticket from the form")
    [ticket] = (await visitor.state())["tickets"]
    assert "Wrong size" == ticket["subject"]
    assert "returns" in ticket["tags"]
    assert ticket["messages"][0]["body"].startswith("Sent M, ordered L")
    notice = await modal()
    assert notice is not None
    status, _ = await visitor.act("close", **{"as": "agent"}, view_id=notice["id"])
    assert (200, None) == (status, await modal())


async def test_shortcuts_and_modals_refuse_what_the_visitor_cannot_do(visitor: Visitor) -> None:
    """Only the app's shortcuts can be picked; a modal is submitted or closed only by the person
    it is open for; form values must be texts."""
    support = (await visitor.channel("support"))["id"]
    ts = (await visitor.channel("support"))["messages"][0]["ts"]
    refused = await visitor.act(
        "shortcut", **{"as": "agent"}, channel=support, ts=ts, callback_id="delete_all"
    )
    assert 400 == refused[0]
    await visitor.act(
        "shortcut", **{"as": "agent"}, channel=support, ts=ts, callback_id="create_ticket"
    )
    agent = (await visitor.state())["people"]["agent"]

    async def modal() -> dict[str, Any] | None:
        return (await visitor.state())["modals"].get(agent)

    await eventually(modal, timeout=30, what="the Create ticket modal")
    form = await modal()
    assert form is not None
    for kind, body in (
        ("submit", {"as": "customer", "view_id": form["id"], "values": {}}),
        ("close", {"as": "customer", "view_id": form["id"]}),
        ("submit", {"as": "agent", "view_id": "V404", "values": {}}),
    ):
        assert 404 == (await visitor.act(kind, **body))[0]
    for values in ([], {"subject": 5}, {"subject": "x" * 3001}):
        refused = await visitor.act("submit", **{"as": "agent"}, view_id=form["id"], values=values)
        assert 400 == refused[0]
    assert form == await modal()


async def test_ticket_bodies_hold_plain_text_not_slack_markup(visitor: Visitor) -> None:
    """A message with formatting, a link, a mention and entities becomes a ticket whose body
    reads as plain text: no `*`, `_`, `<…>` tokens or `&amp;` left."""
    state = await visitor.state()
    support = (await visitor.channel("support"))["id"]
    alice = state["people"]["agent"]
    text = (
        f"*Broken* _hinge_ on ~one~ `SKU-9`, photo <https://x.io/p?a=1&amp;b=2|here> "
        f"&amp; cc <@{alice}> &lt;urgent&gt;"
    )
    _, posted = await visitor.act("post", **{"as": "customer"}, channel=support, text=text)
    await visitor.act("react", **{"as": "agent"}, channel=support, ts=posted["ts"], name="ticket")

    async def created() -> bool:
        return bool((await visitor.state())["tickets"])

    await eventually(created, timeout=30, what="the ticket")
    [ticket] = (await visitor.state())["tickets"]
    expected = "Broken hinge on one SKU-9, photo here (https://x.io/p?a=1&b=2) & cc @Alice <urgent>"
    assert expected == ticket["messages"][0]["body"].splitlines()[0]
    assert "Broken hinge on one SKU-9, photo here" == ticket["subject"][:37]


async def test_a_hand_off_transcript_holds_plain_text_not_slack_markup(visitor: Visitor) -> None:
    """The assistant's hand-off ticket carries the customer's words without Slack's marks."""
    dm = (await visitor.channel("@Bob"))["id"]
    for text in ("My *parcel* is _late_ &amp; lost", "I'd like to talk to a *human* please"):
        await visitor.act("post", **{"as": "customer"}, channel=dm, text=text)

    async def handed_off() -> bool:
        return bool((await visitor.state())["tickets"])

    await eventually(handed_off, timeout=60, what="the hand-off ticket")
    [ticket] = (await visitor.state())["tickets"]
    body = ticket["messages"][0]["body"]
    assert "Customer: My parcel is late & lost" in body
    assert "Customer: I'd like to talk to a human please" in body


@pytest.mark.slow
def test_python_m_bot_run_without_credentials_serves_the_sandbox_and_stops_on_sigint(
    tmp_path: Path,
) -> None:
    """`python -m ticketbolt run` with no Slack variables prints the sandbox URL and docs hint on
    one line, serves the page, and exits 0 without a traceback on Ctrl-C (SIGINT)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "GORGIAS_", "TICKETBOLT_", "OPENAI_"))
        and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env |= {"PYTHONPATH": str(ROOT), "TICKETBOLT_PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketbolt", "run"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        # Start-up loads the offline classifier: generous on a busy machine, but bounded.
        readable, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if readable else ""
        if not line.startswith("ticketbolt sandbox: open http://127.0.0.1:"):
            proc.kill()
            pytest.fail(f"no sandbox line; got {line!r}; stderr: {proc.communicate()[1][-3000:]}")
        assert "docs/slack-setup.md" in line
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # loopback
            assert "nothing leaves this machine" in response.read().decode()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (0, "") == (proc.returncode, out), err
    assert "Traceback" not in err
    assert "TICKETBOLT_AGENTS" not in err  # advice for a real workspace has no place here
    # The emulated workspace dies with the process, so its database does too.
    assert [] == list(tmp_path.glob("*.db"))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:3000/"),
        ("0.0.0.0", "http://127.0.0.1:3000/"),  # noqa: S104  # a value under test, not a bind
        ("::", "http://127.0.0.1:3000/"),
        ("::1", "http://[::1]:3000/"),
        ("10.1.2.3", "http://10.1.2.3:3000/"),
    ],
)
def test_the_sandbox_reaches_itself_on_loopback_when_bound_to_every_interface(
    host: str, expected: str
) -> None:
    """Its emulated Slack calls back into the same process: a wildcard bind means loopback."""
    assert expected == self_url(host, 3000)
