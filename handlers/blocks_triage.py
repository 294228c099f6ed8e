"""Block Kit of claiming and assigning: the "Take it" button and the thread notices."""

from __future__ import annotations

from typing import Any

Blocks = list[dict[str, Any]]
TAKE_IT = "ticketbolt_take_it"
ASSIGN = "ticketbolt_assign"


def take_it(ticket_id: int) -> dict[str, Any]:
    """The controls under a new ticket's thread message: "Take it" claims the ticket for the
    clicking agent; "Assign…" is a user picker that assigns it to whoever is picked."""
    return {
        "type": "actions",
        "block_id": f"triage:{ticket_id}",
        "elements": [
            {
                "type": "button",
                "action_id": TAKE_IT,
                "text": {"type": "plain_text", "text": "Take it"},
                "value": str(ticket_id),
            },
            {
                "type": "users_select",
                "action_id": ASSIGN,
                "placeholder": {"type": "plain_text", "text": "Assign…"},
            },
        ],
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def claimed(ticket_id: int, link: str, who: str, before: str | None) -> tuple[str, Blocks]:
    """`who` took the ticket; `before` names the agent it was taken from, if any."""
    over = f", reassigned from {_escape(before)}" if before else ""
    text = f"{who} took ticket #{ticket_id}{over}"
    return text, [_section(f":raising_hand: {who} took *<{link}|ticket #{ticket_id}>*{over}")]


def unclaimed(ticket_id: int, link: str, who: str) -> tuple[str, Blocks]:
    text = f"{who} gave ticket #{ticket_id} back: unassigned"
    return text, [_section(f":wave: {who} gave *<{link}|ticket #{ticket_id}>* back: unassigned")]


def assigned(ticket_id: int, link: str, who: str, by: str) -> tuple[str, Blocks]:
    text = f"{by} assigned ticket #{ticket_id} to {who}"
    shown = f":bust_in_silhouette: {by} assigned *<{link}|ticket #{ticket_id}>* to {who}"
    return text, [_section(shown)]


def no_gorgias_user(email: str | None) -> str:
    if not email:
        return "No claim: your Slack profile has no e-mail to find your Gorgias user by."
    return (
        f"No claim: Gorgias has no user with the e-mail {email} (your Slack profile's). "
        "Nothing was changed; ask an admin to add you to Gorgias with that address."
    )


# -- /ticketbolt assign, mine and channel (answers only the caller sees) -----------------------

Answer = tuple[str, Blocks]


def _answer(icon: str, text: str) -> Answer:
    return text, [_section(f"{icon} {_escape(text)}")]


def not_an_agent() -> Answer:
    return _answer(":no_entry:", "Only agents can assign tickets (see TICKETBOLT_AGENTS).")


def cannot_take() -> Answer:
    return _answer(":no_entry:", "Only agents can take tickets (see TICKETBOLT_AGENTS).")


def no_ticket_here() -> Answer:
    return _answer(":mag:", "This thread has no ticket (any more) to take or assign.")


def unknown_user(user_id: str) -> Answer:
    return _answer(":mag:", f"Slack does not know the user {user_id}; pick them from the @ menu.")


def not_assignable(who: str) -> Answer:
    text = f"{who} is not a member of this workspace: only members can be assigned tickets."
    return text, [_section(f":no_entry: {text}")]


def no_gorgias_user_for(who: str, email: str | None) -> Answer:
    """The assignee has no Gorgias user; the e-mail that was tried is named."""
    if not email:
        text = (
            f"Not assigned: {who} has no e-mail in their Slack profile to find a Gorgias user by."
        )
    else:
        text = (
            f"Not assigned: Gorgias has no user with the e-mail {_escape(email)} "
            f"({who}'s Slack profile). Nothing was changed."
        )
    return text, [_section(f":warning: {text}")]


def assign_done(ticket_id: int, link: str, who: str, *, already: bool, in_thread: bool) -> Answer:
    if already:
        text = f"Ticket #{ticket_id} was already assigned to {who}; nothing changed."
    else:
        told = " The ticket's Slack thread says so." if in_thread else ""
        text = f"Ticket #{ticket_id} is now assigned to {who}.{told}"
    shown = text.replace(f"Ticket #{ticket_id}", f"<{link}|Ticket #{ticket_id}>", 1)
    return text, [_section(f":bust_in_silhouette: {shown}")]


def my_tickets(
    rows: list[tuple[int, str, str, str]], *, email: str, more: bool, scanned: int | None
) -> Answer:
    """`rows` are (id, link, subject, age), newest first. `more`: the list was cut at its
    length; `scanned`: the scan stopped after that many tickets, so older ones were not seen."""
    notes = []
    if more:
        notes.append(f"Showing the {len(rows)} newest; you have more.")
    if scanned is not None:
        notes.append(
            f"Only the {scanned} most recently updated tickets were checked; older ones may be "
            "missing."
        )
    if not rows:
        head = f"No open tickets are assigned to you ({email} in Gorgias)."
    else:
        head = f"{len(rows)} open ticket{'s' if len(rows) != 1 else ''} assigned to you:"
    lines = [
        f"• <{link}|#{ticket_id}> {_escape(subject or '(no subject)')} · {age} old"
        for ticket_id, link, subject, age in rows
    ]
    text = "\n".join([head, *(f"#{t} {s or '(no subject)'} · {a} old" for t, _, s, a in rows)])
    blocks = [_section(f":inbox_tray: *{_escape(head)}*")]
    if lines:
        blocks.append(_section("\n".join(lines)))
    if notes:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " ".join(notes)}]}
        )
    return "\n".join([text, *notes]), blocks


def channel_settings(channel_id: str, settings: list[tuple[str, str]], *, listed: bool,
                     source: str) -> Answer:  # fmt: skip
    """The channel's settings from the channels file, or its defaults when it is not listed."""
    if not source:
        origin = "No channels file is set (TICKETBOLT_CHANNELS): the built-in defaults apply."
    elif listed:
        origin = f"Settings for this channel from {source}."
    else:
        origin = f"This channel is not listed in {source}: its defaults apply."
    text = f"<#{channel_id}>: {origin}\n" + "\n".join(f"{k}: {v}" for k, v in settings)
    return text, [
        _section(f":gear: <#{channel_id}> — {_escape(origin)}"),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_escape(v)}"} for k, v in settings],
        },
    ]
