"""ticketbolt: Slack chat-ops for support teams on Gorgias.

The repository keeps its rooms at the top (`bot/`, `handlers/`, `integrations/`, `cache/`,
`bench/`);
this package links them in, so they install and import as one namespace: `ticketbolt.bot`, ….
"""

__version__ = "0.2.0.dev0"
