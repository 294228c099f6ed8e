"""The sandbox: the real app against in-process Slack and Gorgias emulators, and its web page."""
