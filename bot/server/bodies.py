"""Request bodies from outside: how deep their JSON may nest before it is refused."""

from __future__ import annotations

# Far beyond Slack's deepest payloads (rich text in blocks in a message in an event) and Gorgias'
# `{{context}}`, and far below the interpreter's recursion limit: what parses at the edge must not
# overflow the stack of Bolt, which parses it again further down, or of `json.dumps` later.
MAX_DEPTH = 64


def nested_deeper_than(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests lists or objects more than `limit` deep; walked, never recursed."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if not isinstance(node, list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in node)
    return False
