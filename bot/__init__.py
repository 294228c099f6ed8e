"""ticketbolt: Slack chat-ops for support teams on Gorgias."""

__version__ = "0.1.0"
