"""Slack helpers: mrkdwn rendering; the emulator of Slack's APIs is the `emulator` subpackage."""

from ticketbolt.integrations.slack.text import find_emails, mentioned_ids, render_plain

__all__ = ["find_emails", "mentioned_ids", "render_plain"]
