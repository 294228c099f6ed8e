"""The LLM client (classifier and answer writer) and its OpenAI-compatible emulator."""
