"""The emulator's REST routes: thin aiohttp handlers over `EmulatorState`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from ticketbolt.integrations.gorgias.emulator.state import ApiError, EmulatorState, Json, now
from ticketbolt.integrations.gorgias.emulator.webhooks import WebhookDispatcher

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATE = web.AppKey("gorgias_state", EmulatorState)
HOOKS = web.AppKey("gorgias_hooks", WebhookDispatcher)


def fire(app: web.Application, trigger: str, ticket_id: int, **extra: Any) -> None:
    """Call the HTTP integrations listening to `trigger` with the ticket's context."""
    state = app[STATE]
    ticket = state.ticket_view(state.ticket(ticket_id))
    event = {"type": trigger, "object_type": "Ticket", "object_id": ticket_id,
             "created_datetime": now(), **extra.pop("event", {})}  # fmt: skip
    context: Json = {"ticket": ticket, "message": extra.pop("message", None), "event": event}
    app[HOOKS].fire(state.integrations.values(), trigger, context)


def page(items: list[Json], query: Mapping[str, str], path: str, default_order: str) -> Json:
    """One page of a cursor-paginated list envelope; cursors are opaque base64 offsets."""
    try:
        limit = int(query.get("limit", "30"))
    except ValueError:
        raise ApiError(400, "Invalid query.", {"limit": ["Not a valid integer."]}) from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid query.", {"limit": ["Must be between 1 and 100."]})
    field_name, _, direction = query.get("order_by", default_order).partition(":")
    ordered = sorted(items, key=lambda i: (i.get(field_name) or "", i["id"]))
    if direction != "asc":
        ordered.reverse()
    start = 0
    if cursor := query.get("cursor"):
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("next:"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ApiError(400, "Invalid query.", {"cursor": ["Invalid cursor."]}) from None

    def cursor_at(offset: int) -> str:
        return base64.urlsafe_b64encode(f"next:{offset}".encode()).decode()

    end = start + limit
    return {
        "object": "list",
        "uri": path,
        "data": ordered[start:end],
        "meta": {
            "prev_cursor": cursor_at(max(0, start - limit)) if start else None,
            "next_cursor": cursor_at(end) if end < len(ordered) else None,
        },
    }


async def _body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ApiError(404, "Resource not found.") from None


def _listing(request: web.Request, items: list[Json], default_order: str) -> web.Response:
    return web.json_response(page(items, request.query, request.path_qs, default_order))


def _found(item: Json | None) -> web.Response:
    """`item` as the answer; 404 when the look-up found none."""
    if item is None:
        raise ApiError(404, "Resource not found.")
    return web.json_response(item)


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


async def get_account(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response({"domain": state.account, "status": {"status": "active"}})


async def create_ticket(request: web.Request) -> web.Response:
    ticket = _state(request).create_ticket(await _body(request))
    fire(request.app, "ticket-created", ticket["id"])
    return web.json_response(ticket, status=201)


async def list_tickets(request: web.Request) -> web.Response:
    return _listing(request, _state(request).find_tickets(request.query), "created_datetime:desc")


async def get_ticket(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(state.ticket_view(state.ticket(_id(request))))


async def update_ticket(request: web.Request) -> web.Response:
    state, ticket_id = _state(request), _id(request)
    if state.update_ticket(ticket_id, await _body(request)):
        fire(request.app, "ticket-updated", ticket_id)
    return web.json_response(state.ticket_view(state.ticket(ticket_id)))


async def delete_ticket(request: web.Request) -> web.Response:
    state, ticket_id = _state(request), _id(request)
    state.ticket(ticket_id)
    del state.tickets[ticket_id]
    for message in state.ticket_messages(ticket_id):
        del state.messages[message["id"]]
    return web.Response(status=204)


async def create_message(request: web.Request) -> web.Response:
    ticket_id = _id(request)
    message = _state(request).add_message(ticket_id, await _body(request))
    fire(request.app, "ticket-message-created", ticket_id, message=message)
    return web.json_response(message, status=201)


async def ticket_messages(request: web.Request) -> web.Response:
    state = _state(request)
    messages = state.ticket_messages(state.ticket(_id(request))["id"])
    return _listing(request, messages, "created_datetime:asc")


async def list_messages(request: web.Request) -> web.Response:
    messages = list(_state(request).messages.values())
    if ticket_id := request.query.get("ticket_id"):
        messages = [m for m in messages if str(m["ticket_id"]) == ticket_id]
    return _listing(request, messages, "created_datetime:asc")


async def ticket_tags(request: web.Request) -> web.Response:
    state = _state(request)
    ticket = state.ticket(_id(request))
    if request.method == "GET":
        return web.json_response({"data": ticket["tags"]})
    body = await _body(request)
    by_id = {t["id"]: t["name"] for t in state.tags.values()}
    names = [*(body.get("names") or []), *(by_id[i] for i in body.get("ids") or [] if i in by_id)]
    before = [t["name"] for t in ticket["tags"]]
    if request.method == "DELETE":
        state.set_tags(ticket, [n for n in before if n not in names])
    else:
        state.set_tags(ticket, names, add=request.method == "POST")
    if [t["name"] for t in ticket["tags"]] != before:
        ticket["updated_datetime"] = now()
        fire(request.app, "ticket-updated", ticket["id"])
    return web.Response(status={"POST": 201, "PUT": 202}.get(request.method, 204))


async def list_surveys(request: web.Request) -> web.Response:
    return _listing(request, _state(request).find_surveys(request.query), "created_datetime:desc")


async def get_survey(request: web.Request) -> web.Response:
    return _found(_state(request).surveys.get(_id(request)))


async def create_customer(request: web.Request) -> web.Response:
    customer = _state(request).create_customer(await _body(request))
    return web.json_response(customer, status=201)


async def list_customers(request: web.Request) -> web.Response:
    return _listing(request, _state(request).find_customers(request.query), "created_datetime:desc")


async def get_customer(request: web.Request) -> web.Response:
    return _found(_state(request).customers.get(_id(request)))


async def get_user(request: web.Request) -> web.Response:
    state, user_id = _state(request), _id(request)
    return _found(state.me if user_id == 0 else state.users.get(user_id))


async def list_users(request: web.Request) -> web.Response:
    return _listing(request, list(_state(request).users.values()), "created_datetime:asc")


async def list_integrations(request: web.Request) -> web.Response:
    found = list(_state(request).integrations.values())
    if kind := request.query.get("type"):
        found = [i for i in found if i["type"] == kind]
    return _listing(request, found, "created_datetime:asc")


async def create_integration(request: web.Request) -> web.Response:
    integration = _state(request).save_integration(await _body(request))
    return web.json_response(integration, status=201)


async def one_integration(request: web.Request) -> web.Response:
    state, integration_id = _state(request), _id(request)
    integration = state.integration(integration_id)
    if request.method == "DELETE":
        del state.integrations[integration_id]
        return web.Response(status=204)
    if request.method == "PUT":
        integration = state.save_integration(await _body(request), integration)
    return web.json_response(integration)


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/api/account", get_account),
    ("POST", "/api/tickets", create_ticket),
    ("GET", "/api/tickets", list_tickets),
    ("GET", "/api/tickets/{id}", get_ticket),
    ("PUT", "/api/tickets/{id}", update_ticket),
    ("DELETE", "/api/tickets/{id}", delete_ticket),
    ("POST", "/api/tickets/{id}/messages", create_message),
    ("GET", "/api/tickets/{id}/messages", ticket_messages),
    ("GET", "/api/messages", list_messages),
    *(
        (method, "/api/tickets/{id}/tags", ticket_tags)
        for method in ("GET", "POST", "PUT", "DELETE")
    ),
    ("GET", "/api/satisfaction-surveys", list_surveys),
    ("GET", "/api/satisfaction-surveys/{id}", get_survey),
    ("POST", "/api/customers", create_customer),
    ("GET", "/api/customers", list_customers),
    ("GET", "/api/customers/{id}", get_customer),
    ("GET", "/api/users", list_users),
    ("GET", "/api/users/{id}", get_user),
    ("GET", "/api/integrations", list_integrations),
    ("POST", "/api/integrations", create_integration),
    *((method, "/api/integrations/{id}", one_integration) for method in ("GET", "PUT", "DELETE")),
)


def add_routes(app: web.Application) -> None:
    """Register every route with and without its trailing slash (Gorgias accepts both)."""
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, path + "/", handler)
