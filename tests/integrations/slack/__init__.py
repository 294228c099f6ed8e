"""Tests of the Slack emulator and the Slack text helpers."""
