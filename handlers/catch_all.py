"""Answers every event no feature wants with 200, so Slack never retries or disables delivery."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from ticketbolt.handlers.deps import Deps

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    del deps

    @app.event(re.compile(".*"))
    async def ignore_other_events(event: dict[str, Any]) -> None:
        log.debug("event ignored", extra={"event_type": event.get("type")})
