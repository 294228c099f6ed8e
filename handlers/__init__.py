"""Slack listeners, one module per feature, each exposing `register(app, deps)`."""

from __future__ import annotations

from typing import Any

from ticketbolt.handlers.deps import Deps


def register_all(app: Any, deps: Deps) -> None:
    """Register every feature; the catch-all goes last because Bolt runs the first match only."""
    from ticketbolt.handlers import catch_all

    for module in _features():
        module.register(app, deps)
    catch_all.register(app, deps)


def required_scopes() -> set[str]:
    """Every bot scope the registered features declare (manifest.yml lists exactly these)."""
    return {scope for module in _features() for scope in getattr(module, "SCOPES", {})}


def _features() -> list[Any]:
    """Feature modules in registration order; `messages` follows those that add consumers."""
    from ticketbolt.handlers import (
        assistant,
        commands,
        messages,
        reactions,
        routing,
        shortcuts,
        sla_watchdog,
        slack_directory,
        summary_commands,
        sync,
        triage,
    )

    # slack_directory's message consumer runs first: thread sync relies on what it records.
    # routing's `auto` tickets follow it too, so their create finds the message recorded.
    return [
        *(reactions, triage, slack_directory, routing, assistant, sync, sla_watchdog),
        *(commands, shortcuts, summary_commands, messages),
    ]
