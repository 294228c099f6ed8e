"""An emulator of an OpenAI-compatible chat-completions endpoint, on loopback."""

from ticketbolt.integrations.llm.emulator.app import LlmEmulator

__all__ = ["LlmEmulator"]
