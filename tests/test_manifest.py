"""manifest.yml is valid for Slack and lists exactly what the code registers and calls."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from ticketbolt import handlers

ROOT = Path(__file__).resolve().parent.parent
# Slack's published schema, kept in the repository (tests/data/slack-manifest-schema/SOURCE.md).
SCHEMAS = Path(
    os.environ.get("TICKETBOLT_MANIFEST_SCHEMA_DIR")
    or ROOT / "tests" / "data" / "slack-manifest-schema"
)
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"
MANIFESTS = [ROOT / "manifest.yml", ROOT / "docs" / "manifest-socket-mode.yml"]

# Events Slack delivers and the scope each subscription needs.
EVENT_SCOPES = {
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "user_change": "users:read",
    "channel_rename": "channels:read",
}
# Web API methods the code calls (slack_sdk names) and the scope each needs; None: no scope.
METHOD_SCOPES: dict[str, str | None] = {
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": None,
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    "users_info": "users:read",
    "conversations_replies": "channels:history",
    "conversations_history": "channels:history",
    "conversations_info": "channels:read",
    "team_info": "team:read",
    "views_open": None,
    "views_update": None,
    "auth_test": None,
    "usergroups_users_list": "usergroups:read",
}


def require_schema() -> None:
    if (SCHEMAS / "manifest.schema.json").exists():
        return
    message = f"Slack's manifest schema is not at {SCHEMAS}; set TICKETBOLT_MANIFEST_SCHEMA_DIR"
    if os.environ.get("TICKETBOLT_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def schema_registry() -> Registry[Any]:
    """Map the schema's remote $refs onto the local copies, so validation needs no network."""
    registry: Registry[Any] = Registry()
    for local, remote in (
        ("v1.json", "manifest.schema.1.0.0.json"),
        ("v2.json", "manifest.schema.2.0.0.json"),
    ):
        contents = json.loads((SCHEMAS / local).read_text())
        contents.setdefault("$schema", "http://json-schema.org/draft-07/schema#")
        registry = registry.with_resource(REMOTE + remote, Resource.from_contents(contents))
    return registry


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def code_declarations() -> tuple[set[str], set[str], set[str], set[str]]:
    """Events, commands, shortcuts and scopes declared by the feature modules."""
    events: set[str] = set()
    commands: set[str] = set()
    shortcuts: set[str] = set()
    scopes: set[str] = set()
    for module in handlers._features():
        events |= set(getattr(module, "SLACK_EVENTS", ()))
        commands |= set(getattr(module, "SLACK_COMMANDS", ()))
        shortcuts |= set(getattr(module, "SLACK_SHORTCUTS", ()))
        scopes |= set(getattr(module, "SCOPES", {}))
    return events, commands, shortcuts, scopes


def called_methods() -> set[str]:
    """Every slack_sdk Web API method named in handlers/ and bot/ source."""
    names: set[str] = set()
    for path in [*ROOT.joinpath("handlers").rglob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and re.fullmatch(
                # `team_id` is an attribute everywhere; `team_info` and its kin are methods.
                r"(chat|reactions|users|conversations|views|auth)_[A-Za-z]+|team_(?!id$)[A-Za-z]+",
                node.attr,
            ):
                names.add(node.attr)
    return names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_slacks_schema(path: Path) -> None:
    """Both manifests pass Slack's published JSON schema (no network: refs resolve locally)."""
    require_schema()
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=schema_registry())
    errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.path))
    assert [] == [f"{list(e.path)}: {e.message}" for e in errors]


def test_a_broken_manifest_fails_validation() -> None:
    """The validation above can fail: a misspelt key is rejected."""
    require_schema()
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=schema_registry())
    broken = load(MANIFESTS[0])
    broken["features"]["slash_comands"] = broken["features"].pop("slash_commands")
    assert list(validator.iter_errors(broken))


def test_events_commands_and_shortcuts_match_the_code_both_ways() -> None:
    """Every event, command and shortcut the code registers is in the manifest, and no more."""
    events, commands, shortcuts, _ = code_declarations()
    manifest = load(MANIFESTS[0])
    assert sorted(events) == sorted(manifest["settings"]["event_subscriptions"]["bot_events"])
    features = manifest["features"]
    assert sorted(commands) == sorted(c["command"] for c in features.get("slash_commands", []))
    assert sorted(shortcuts) == sorted(s["callback_id"] for s in features.get("shortcuts", []))


def test_scopes_match_the_code_both_ways() -> None:
    """The manifest requests exactly the scopes the features declare, and those cover every
    event subscribed and every Web API method called."""
    events, commands, _, scopes = code_declarations()
    manifest_scopes = set(load(MANIFESTS[0])["oauth_config"]["scopes"]["bot"])
    assert sorted(scopes) == sorted(manifest_scopes)
    needed = {EVENT_SCOPES[e] for e in events}
    needed |= {"commands"} if commands else set()
    unknown = called_methods() - set(METHOD_SCOPES)
    assert set() == unknown, "add the scope of each new Web API method to METHOD_SCOPES"
    needed |= {s for m in called_methods() if (s := METHOD_SCOPES[m])}
    assert set() == needed - manifest_scopes


def test_registered_literals_are_declared() -> None:
    """A listener registered with a literal name in handlers/ is also in the declarations."""
    events, commands, shortcuts, _ = code_declarations()
    declared = {e.split(".")[0] for e in events} | commands | shortcuts
    source = "\n".join(p.read_text() for p in ROOT.joinpath("handlers").rglob("*.py"))
    literals = set(re.findall(r"app\.(?:event|command|shortcut)\(\s*\"([^\"]+)\"", source))
    assert set() == literals - declared
