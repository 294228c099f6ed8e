"""The HTTP side: the aiohttp server, its Bolt app and the Gorgias webhook receiver."""
