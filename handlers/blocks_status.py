"""Pure Block Kit builders for `/ticketbolt` answers and the "Create ticket" modal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ticketbolt.integrations.gorgias.models import Ticket

Blocks = list[dict[str, Any]]
Answer = tuple[str, Blocks]

CHECKING = "Checking… the answer follows in a moment."
STATE_ICONS = {
    "ok": ":large_green_circle:",
    "degraded": ":large_yellow_circle:",
    "down": ":red_circle:",
    "off": ":white_circle:",
}
CHECK_LABELS = {
    "database": "Database",
    "cache": "Cache",
    "slack": "Slack API",
    "gorgias": "Gorgias",
    "llm": "LLM",
    "intents": "Assistant tiers",
}
# The modal's inputs: block_id and action_id are the same string for each field.
SUBJECT, BODY, PRIORITY, TAGS = "subject", "body", "priority", "tags"
PRIORITIES = ("low", "normal", "high", "critical")
MAX_BODY = 3000  # Slack's limit for a plain_text_input value


def escape(text: str) -> str:
    """Text a person or Gorgias wrote, made safe for mrkdwn (no accidental links or mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def duration(seconds: float) -> str:
    """`3725` → `1h 2m`: the two largest units are enough to read at a glance."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    parts = [
        (whole // 86400, "d"),
        (whole % 86400 // 3600, "h"),
        (whole % 3600 // 60, "m"),
        (whole % 60, "s"),
    ]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown)


def usage(problem: str = "") -> Answer:
    """The command list; `problem` (what was wrong with the command) goes first when given."""
    text = (
        "Usage: /ticketbolt status | cache | ticket <id> | "
        "assign <id> @user | mine | channel | sla | summary <id> | help"
    )
    told = [_section(f":warning: {problem}")] if problem else []
    return f"{text}\n{problem}".rstrip(), [
        *told,
        _section(
            "*`/ticketbolt` commands*\n"
            "• `/ticketbolt status` — health of every dependency, the job queue, version\n"
            "• `/ticketbolt cache` — cache statistics per layer\n"
            "• `/ticketbolt ticket <id>` — a Gorgias ticket and the message it came from\n"
            "• `/ticketbolt assign <id> @user` — make someone the ticket's assignee (agents only)\n"
            "• `/ticketbolt mine` — the open tickets assigned to you, newest first\n"
            "• `/ticketbolt channel` — this channel's settings from the channels file\n"
            "• `/ticketbolt sla` — this channel's open tickets by SLA time left, breached first\n"
            "• `/ticketbolt summary <id>` — who, what they need, what was tried (agents only; "
            "or *Ticket summary* on a message of the thread)\n"
            "• `/ticketbolt help` — this list"
        ),
        _context("Answers are visible only to you."),
    ]


def unknown_subcommand(given: str) -> str:
    """Why `/ticketbolt <given>` got the usage instead of an answer."""
    shown = escape(given if len(given) <= 40 else given[:39] + "…").replace("`", "'")
    return f"I don't know `{shown}`. Here is what I can do:"


def not_a_ticket_id(given: str) -> str:
    """Why `ticket <given>` was refused; `given` is shown as typed, shortened and escaped."""
    shown = escape(given if len(given) <= 40 else given[:39] + "…").replace("`", "'")
    return f"`{shown}` is not a ticket number: use its digits only, like `/ticketbolt ticket 1234`."


def refused() -> Answer:
    text = "Only members of this workspace can use /ticketbolt."
    return text, [_section(f":no_entry: {text}")]


def problem(text: str) -> Answer:
    return text, [_section(f":warning: {escape(text)}")]


# -- status -----------------------------------------------------------------------------------


def _check_line(check: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    name, state = str(check["name"]), str(check["state"])
    label = CHECK_LABELS.get(name, name)
    latency = check.get("latency_ms")
    took = "" if latency is None else f"{float(latency):.{1 if float(latency) < 10 else 0}f} ms "
    line = (
        f"{STATE_ICONS.get(state, ':grey_question:')} *{label}* {state} · "
        f"{took}— {escape(str(check['detail']))}"
    )
    backend = str((report.get("cache") or {}).get("backend", ""))
    if name == "cache" and backend and backend != check["detail"]:
        # `redis→memory` while the fallback serves: the check may have caught Redis back first.
        line += f" · backend `{backend}`"
    if name == "gorgias":
        line += "\n      " + _gorgias_extras(report)
    if state == "down" and check.get("setting"):
        line += f"\n      Check `{check['setting']}`."
    return line


def _gorgias_extras(report: Mapping[str, Any]) -> str:
    circuit = str((report.get("circuits") or {}).get("gorgias", "unknown")).replace("_", "-")
    limits = report.get("gorgias_rate_limit")
    if limits:
        limit = f"rate limit {limits['used']}/{limits['limit']} used, {limits['headroom']} left"
    else:
        limit = "rate limit not reported yet"
    watchdog = report.get("sla_watchdog")
    if watchdog:  # its share of the allowance (TICKETBOLT_SLA_API_SHARE)
        limit += (
            f" · SLA watchdog {float(watchdog['share']):.0%} share: up to "
            f"{watchdog['calls_per_run']} calls per {float(watchdog['interval_seconds']):g}s run, "
            f"{watchdog['last_run_calls']} in the last"
        )
    return f"circuit *{circuit}* · {limit}"


def _queue_line(queue: Mapping[str, Any]) -> str:
    states = queue.get("by_state") or {}
    failed = int(states.get("failed", 0))
    line = (
        f"{':warning:' if failed else ':inbox_tray:'} *Job queue* "
        f"{states.get('queued', 0)} queued · {states.get('running', 0)} running · "
        f"{failed} failed · oldest waiting {duration(queue.get('oldest_queued_seconds', 0))}"
    )
    if failed:
        line += (
            "\n      See `ticketbolt jobs list --state failed`; "
            "retry one with `ticketbolt jobs retry <id>`."
        )
    return line


def status_report(report: Mapping[str, Any]) -> Answer:
    """Every dependency with state and latency, Gorgias' circuit and headroom, the queue."""
    checks = list(report.get("checks") or [])
    troubled = [f"{c['name']} {c['state']}" for c in checks if c["state"] not in ("ok", "off")]
    summary = "all dependencies ok" if not troubled else ", ".join(troubled)
    lines = [_check_line(c, report) for c in checks]
    if "queue" in report:
        lines.append(_queue_line(report["queue"]))
    else:
        reason = report.get("stats_error", "no data")
        lines.append(f":red_circle: *Job queue* unavailable ({reason})")
    footer = (
        f"ticketbolt {report.get('version', '?')} · up "
        f"{duration(float(report.get('uptime_seconds', 0)))}"
    )
    return f"ticketbolt status: {summary}", [
        _section(f"*ticketbolt status* — {summary}"),
        _section("\n".join(lines)),
        _context(footer),
    ]


# -- cache ------------------------------------------------------------------------------------


def _rate(hit_rate: float) -> str:
    return f"{hit_rate * 100:.1f} %"


def cache_report(cache: Mapping[str, Any]) -> Answer:
    """The backend's totals, then each LLM cache layer's hits, savings and TTL."""
    backend = str(cache.get("backend", "unknown"))
    fell_back = " _(Redis unreachable: serving from memory)_" if "→" in backend else ""
    head = (
        f"*Backend* `{backend}`{fell_back} · {cache.get('entries', 0)} entries · "
        f"{cache.get('hits', 0)} hits / {cache.get('misses', 0)} misses · "
        f"hit rate {_rate(float(cache.get('hit_rate', 0.0)))}"
    )
    layers: Mapping[str, Mapping[str, Any]] = cache.get("layers") or {}
    if layers:
        rows = [
            f"• *{name}* (TTL {duration(float(layer.get('ttl_seconds', 0)))}) · "
            f"{layer.get('hits', 0)} hits / {layer.get('misses', 0)} misses · "
            f"hit rate {_rate(float(layer.get('hit_rate', 0.0)))} · "
            f"{int(layer.get('tokens_saved', 0)):,} tokens saved · "
            f"≈ ${float(layer.get('cost_saved_usd', 0.0)):.4f} saved"
            for name, layer in layers.items()
        ]
        body = "*Layers*\n" + "\n".join(rows)
    else:
        body = "_No LLM cache layers: the assistant is not running in this process._"
    text = f"ticketbolt cache: {backend}, {len(layers)} layers"
    return text, [_section("*ticketbolt cache*"), _section(head), _section(body)]


# -- tickets ----------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def ticket_details(ticket: Ticket, link: str, source_permalink: str | None) -> Answer:
    """A Gorgias ticket's facts and, when it was made from Slack, the message it came from."""
    subject = escape(ticket.subject or "(no subject)")
    customer = ticket.customer
    who = "unknown"
    if customer is not None:
        who = escape(customer.name or customer.email or f"customer #{customer.id}")
        if customer.name and customer.email:
            who += f" ({escape(customer.email)})"
    assignee = ticket.assignee_user
    assigned = escape(assignee.name or assignee.email or "an agent") if assignee else "unassigned"
    source = f"<{source_permalink}|the Slack message>" if source_permalink else "not from Slack"
    fields = [
        ("Status", ticket.status),
        ("Priority", ticket.priority or "normal"),
        ("Customer", who),
        ("Assignee", assigned),
        ("Last update", _when(ticket.updated_datetime)),
        ("Came from", source),
    ]
    return f"Ticket #{ticket.id}: {ticket.subject or '(no subject)'}", [
        _section(f":ticket: *<{link}|Ticket #{ticket.id}>* — {subject}"),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]


def ticket_not_found(ticket_id: int) -> Answer:
    text = f"Gorgias has no ticket #{ticket_id}."
    return text, [_section(f":mag: {text}")]


# -- the "Create ticket" modal ----------------------------------------------------------------


def _input(
    block: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "input",
        "block_id": block,
        "label": _plain(label),
        "element": {"action_id": block, **element},
        "optional": optional,
    }
    if hint:
        out["hint"] = _plain(hint)
    return out


def _option(value: str) -> dict[str, Any]:
    return {"text": _plain(value.capitalize()), "value": value}


def create_ticket_modal(callback_id: str, subject: str, body: str, metadata: str) -> dict[str, Any]:
    """The form: subject (first line), the message text, a priority and comma-separated tags."""
    subject_input: dict[str, Any] = {"type": "plain_text_input", "max_length": 998}
    if subject:
        subject_input["initial_value"] = subject[:998]
    body_input: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": MAX_BODY,
    }
    if body:
        body_input["initial_value"] = body[:MAX_BODY]
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": _plain("Create ticket"),
        "submit": _plain("Create"),
        "close": _plain("Cancel"),
        "blocks": [
            _input(SUBJECT, "Subject", subject_input),
            _input(BODY, "Message", body_input, optional=True),
            _input(
                PRIORITY,
                "Priority",
                {
                    "type": "static_select",
                    "options": [_option(p) for p in PRIORITIES],
                    "initial_option": _option("normal"),
                },
            ),
            _input(
                TAGS,
                "Tags",
                {"type": "plain_text_input", "placeholder": _plain("refund, vip")},
                optional=True,
                hint="Comma-separated; #slack and the channel name are added.",
            ),
        ],
    }


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells something (no submit button)."""
    return {
        "type": "modal",
        "title": _plain(title[:24]),
        "close": _plain("Close"),
        "blocks": [_section(text)],
    }


def already_ticketed(ticket_id: int, link: str | None) -> str:
    shown = f"<{link}|ticket #{ticket_id}>" if link else f"ticket #{ticket_id}"
    return f":ticket: This message already has {shown}."


ALREADY_REQUESTED = (
    ":hourglass_flowing_sand: A ticket for this message was already requested. "
    "Its link appears in the message's thread once Gorgias has it."
)
REQUESTED = (
    ":white_check_mark: Creating the ticket. Its link appears in the message's thread in a moment."
)
