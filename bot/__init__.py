"""The composition root: settings, clients, the server, the worker, persistence and the CLI."""
