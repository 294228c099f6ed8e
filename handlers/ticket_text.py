"""The words of a ticket and of its failure notices, built from what Slack and Gorgias returned."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers.deps import PermanentJobError
from ticketbolt.handlers.slack_context import MessageContext
from ticketbolt.integrations.gorgias.errors import (
    GorgiasRateLimited,
    GorgiasUnauthorized,
    GorgiasUnavailable,
)


def subject_of(text: str, limit: int = 80) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        return "Slack message"
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def ticket_body(
    context: MessageContext,
    reactor_name: str,
    note: str = "",
    *,
    text: str | None = None,
    summary: str = "",
) -> str:
    """The first message: a thread's summary block when given (handlers/summary.py), the Slack
    text (or the agent's edit of it) and where it came from."""
    author = context.author.name if context.author else "a bot"
    lines = [summary, ""] if summary else []
    lines += [(text or "").strip() or context.text or "(no text)", ""]
    if context.files:
        lines += [
            f"Attachment: {f.get('name', 'file')} {f.get('permalink', '')}".rstrip()
            for f in context.files
        ]
    if note:
        lines += ["", note]
    lines += [
        "",
        f"Posted by {author} in #{context.channel_name}; ticketed by {reactor_name} from Slack.",
        f"Slack message: {context.permalink}",
    ]
    return "\n".join(lines)


SLACK_WORDS = {
    "user_not_found": "Slack does not know that person (a deleted or foreign user?)",
    "channel_not_found": "Slack does not know that channel, or the bot cannot see it",
    "not_in_channel": "the bot is not a member of this channel (invite it)",
    "is_archived": "the channel is archived",
    "invalid_auth": "Slack refused the bot token (check SLACK_BOT_TOKEN)",
    "token_revoked": "the bot token was revoked (reinstall the app, update SLACK_BOT_TOKEN)",
}


def _slack_words(exc: SlackApiError) -> str:
    code = str(exc.response.get("error") or "an error")
    if code == "missing_scope":
        needed = exc.response.get("needed") or "a scope"
        return f"the Slack app lacks the scope '{needed}' (reinstall it from manifest.yml)"
    return SLACK_WORDS.get(code, f"Slack answered '{code}'")


def describe_failure(exc: Exception, attempts: int) -> str:
    """What went wrong, in words for the people in the thread (details go to the audit log)."""
    if isinstance(exc, PermanentJobError):
        return str(exc)
    if isinstance(exc, GorgiasRateLimited):
        return f"Gorgias kept asking us to slow down ({attempts} attempts)"
    if isinstance(exc, GorgiasUnauthorized):
        return "Gorgias refused our credentials (check GORGIAS_USERNAME and GORGIAS_API_KEY)"
    if isinstance(exc, GorgiasUnavailable):
        return f"Gorgias could not be reached ({attempts} attempts)"
    if isinstance(exc, SlackApiError):
        return _slack_words(exc)
    return f"an unexpected error ({type(exc).__name__}) after {attempts} attempts"
