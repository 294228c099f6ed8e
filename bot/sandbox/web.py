"""The sandbox page and its JSON API: what the visitor does becomes emulated Slack user actions."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ticketbolt.bot.sandbox.modals import FormError, form_values, open_modals, owned_view
from ticketbolt.bot.settings import Settings
from ticketbolt.handlers.shortcuts import SHORTCUT
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.events import Delivery

STATIC = Path(__file__).parent / "static"
FILES = {
    "app.js": "text/javascript",
    "dom.js": "text/javascript",
    "mrkdwn.js": "text/javascript",
    "modal.js": "text/javascript",
    "app.css": "text/css",
}
# The visitor plays these seeded people (integrations/slack/emulator_cli.py `seed_demo`).
ROLES = {"customer": "bob", "agent": "alice", "external": "carol"}
# The app's message shortcuts (manifest.yml) as Slack lists them under a message's More actions.
SHORTCUTS = {SHORTCUT: "Create ticket"}
EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]{1,64}$")
MAX_TEXT = 4000
# The sandbox is always the version just started: never let the browser serve an older copy.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class BadRequest(Exception):
    """The page sent something the sandbox cannot act on; the message says what."""


@dataclass
class Sandbox:
    """The emulators behind the page, the seeded ids, and the slash-command answers so far."""

    slack: SlackEmulator
    gorgias: GorgiasEmulator
    ids: dict[str, str]
    settings: Settings
    commands: list[dict[str, Any]] = field(default_factory=list)

    def person(self, body: dict[str, Any]) -> str:
        role = body.get("as")
        if role not in ROLES:
            raise BadRequest(f"'as' must be one of {sorted(ROLES)}")
        return self.ids[ROLES[role]]

    def state(self) -> dict[str, Any]:
        people = {role: self.ids[name] for role, name in ROLES.items()}
        return {
            "slack": self.slack.snapshot(),
            "people": people,
            "reactions": {
                "create": self.settings.create_reaction,
                "resolve": self.settings.resolve_reaction,
                "claim": self.settings.claim_reaction,
            },
            "commands": self.commands,
            "tickets": [ticket_json(self.gorgias, t) for t in self.gorgias.tickets.values()],
            "shortcuts": [{"callback_id": c, "name": n} for c, n in SHORTCUTS.items()],
            "modals": open_modals(self.slack.views, people.values()),
        }

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        thread_ts = optional_text(body, "thread_ts")
        ts = await self.slack.user_posts(
            self.person(body), text(body, "channel"), text(body, "text", MAX_TEXT), thread_ts
        )
        return {"ts": ts}

    async def react(self, body: dict[str, Any], *, add: bool) -> dict[str, Any]:
        name = text(body, "name")
        if not EMOJI_NAME.match(name):
            raise BadRequest("'name' must be an emoji short name such as 'ticket'")
        action = self.slack.user_reacts if add else self.slack.user_unreacts
        delivery = await action(self.person(body), text(body, "channel"), text(body, "ts"), name)
        return {"delivered": delivery is not None, "status": delivery.status if delivery else None}

    async def command(self, body: dict[str, Any]) -> dict[str, Any]:
        user, channel = self.person(body), text(body, "channel")
        line = optional_text(body, "text") or ""
        ts = self.slack.state.clock.next()
        delivery = await self.slack.slash_command(user, channel, "/ticketbolt", line)
        answer = ack_answer(delivery)
        # Slack shows a command's HTTP answer to the person who ran it, like an ephemeral.
        self.commands.append(
            {
                "ts": ts,
                "user": user,
                "channel": channel,
                "command": f"/ticketbolt {line}".strip(),
                "answer": answer,
            }
        )
        return {"status": delivery.status, "answer": answer}

    async def shortcut(self, body: dict[str, Any]) -> dict[str, Any]:
        """The visitor picks a message shortcut: a signed `message_action` to the app, which
        answers by opening its modal (shown in `state()["modals"]`)."""
        callback_id = text(body, "callback_id")
        if callback_id not in SHORTCUTS:
            raise BadRequest(f"'callback_id' must be one of {sorted(SHORTCUTS)}")
        delivery = await self.slack.message_shortcut(
            self.person(body), text(body, "channel"), text(body, "ts"), callback_id
        )
        return {"status": delivery.status}

    async def click(self, body: dict[str, Any]) -> dict[str, Any]:
        """The visitor clicks a button or picks a person in one of the bot's messages: a signed
        `block_actions` to the app (only for elements the message shows)."""
        picked = optional_text(body, "selected_user")
        if picked is not None and picked not in self.slack.state.users:
            raise BadRequest("'selected_user' must be a user of the workspace")
        delivery = await self.slack.block_action(
            self.person(body),
            text(body, "channel"),
            text(body, "ts"),
            text(body, "action_id"),
            selected_user=picked,
        )
        return {"status": delivery.status}

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """The visitor submits their modal: a signed `view_submission`; the app's field errors."""
        user = self.person(body)
        view = owned_view(self.slack.views, text(body, "view_id"), user)
        try:
            values = form_values(view, body.get("values"))
        except FormError as exc:
            raise BadRequest(str(exc)) from None
        delivery = await self.slack.view_submission(user, view["id"], values)
        answer = ack_answer(delivery)
        errors = answer.get("errors") if answer.get("response_action") == "errors" else None
        return {"status": delivery.status, "errors": errors or {}}

    async def close(self, body: dict[str, Any]) -> dict[str, Any]:
        """The visitor cancels their modal (the app's modals ask for no `view_closed`)."""
        view = owned_view(self.slack.views, text(body, "view_id"), self.person(body))
        self.slack.views.close(view["id"])
        return {"closed": view["id"]}


def ack_answer(delivery: Delivery) -> dict[str, Any]:
    """The app's HTTP answer to a slash command or a form: its JSON body, or its plain text."""
    try:
        body = delivery.json()
    except ValueError:
        return {"text": delivery.body}
    return body if isinstance(body, dict) else {"text": ""}


def ticket_json(gorgias: GorgiasEmulator, ticket: dict[str, Any]) -> dict[str, Any]:
    view = gorgias.state.ticket_view(ticket)
    customer = view.get("customer") or {}
    assignee = view.get("assignee_user") or {}
    return {
        "id": view["id"],
        "subject": view.get("subject") or "",
        "status": view["status"],
        "customer": customer.get("name") or customer.get("email") or "",
        "assignee": assignee.get("name") or assignee.get("email") or "",
        "tags": [t["name"] for t in view.get("tags") or []],
        "messages": [
            {
                "id": m["id"],
                "from_agent": m["from_agent"],
                "public": m["public"],
                "sender": (m.get("sender") or {}).get("name") or "",
                "body": m.get("body_text") or "",
            }
            for m in view.get("messages") or []
        ],
    }


def text(body: dict[str, Any], key: str, limit: int = 100) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"'{key}' must be a non-empty string of at most {limit} characters")
    return value


def optional_text(body: dict[str, Any], key: str) -> str | None:
    return None if body.get(key) in (None, "") else text(body, key, MAX_TEXT)


async def json_body(request: web.Request) -> dict[str, Any]:
    # JSON only: a cross-site form cannot send it without a CORS preflight this app never grants.
    if request.content_type != "application/json":
        raise BadRequest("send application/json")
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def sandbox_routes(sandbox: Sandbox) -> list[web.RouteDef]:
    """`GET /`, its static files, `GET /sandbox/api/state` and the visitor's actions."""

    async def page(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers=NO_STORE)

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FILES:
            raise web.HTTPNotFound
        return web.Response(
            body=(STATIC / name).read_bytes(),
            content_type=FILES[name],
            charset="utf-8",
            headers=NO_STORE,
        )

    async def state(_: web.Request) -> web.Response:
        return web.json_response(sandbox.state(), headers=NO_STORE)

    async def react(body: dict[str, Any]) -> dict[str, Any]:
        return await sandbox.react(body, add=True)

    async def unreact(body: dict[str, Any]) -> dict[str, Any]:
        return await sandbox.react(body, add=False)

    actions: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        "post": sandbox.post,
        "react": react,
        "unreact": unreact,
        "command": sandbox.command,
        "shortcut": sandbox.shortcut,
        "click": sandbox.click,
        "submit": sandbox.submit,
        "close": sandbox.close,
    }

    def action(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                result = await actions[kind](await json_body(request))
            except BadRequest as exc:
                return web.json_response({"error": str(exc)}, status=400)
            except KeyError as exc:  # the emulator knows no such person, channel or message
                return web.json_response({"error": str(exc.args[0])}, status=404)
            return web.json_response(result)

        return handle

    return [
        web.get("/", page),
        web.get("/sandbox/static/{name}", static),
        web.get("/sandbox/api/state", state),
        *(web.post(f"/sandbox/api/{kind}", action(kind)) for kind in actions),
    ]
