"""Building the pooled httpx client for Gorgias, and the URLs derived from its base."""

from __future__ import annotations

import logging

import httpx


def account_base_url(account: str) -> str:
    """The API base of a Gorgias account (its subdomain)."""
    return f"https://{account}.gorgias.com/api/"


def ticket_link(api_base_url: str, ticket_id: int) -> str:
    """The helpdesk page of a ticket, derived from the API base so loopback stays loopback."""
    root = str(api_base_url).rstrip("/").removesuffix("/api")
    return f"{root}/app/ticket/{ticket_id}"


def build_http_client(
    base_url: str,
    username: str,
    api_key: str,
    *,
    timeout: float = 10.0,
    max_connections: int = 20,
) -> httpx.AsyncClient:
    """One pooled httpx client for Gorgias: Basic auth, JSON, explicit timeouts and limits."""
    # httpx logs every URL at INFO; our query strings can hold customers' e-mail addresses.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = base_url.rstrip("/")
    if not root.endswith("/api"):
        root += "/api"
    return httpx.AsyncClient(
        base_url=root + "/",
        auth=httpx.BasicAuth(username, api_key),
        headers={"Accept": "application/json", "User-Agent": "ticketbolt"},
        timeout=httpx.Timeout(connect=min(5.0, timeout), read=timeout, write=timeout, pool=timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
    )
