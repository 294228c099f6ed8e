"""The LLM tests run against the emulator over loopback."""

from tests.integrations.llm.emulated import emulator, llm_client

__all__ = ["emulator", "llm_client"]
