"""The service as `ticketbolt run` starts it, optionally without its job worker (pure ingest).

`python -m ticketbolt.bench.service [--no-worker]` reads the same environment as `python -m
ticketbolt run` and calls the same `ticketbolt.bot.serve.serve`; only `with_worker` differs, so
ingest figures measure the ack path without the worker competing for the same core."""

from __future__ import annotations

import argparse
import asyncio

from ticketbolt.bot.logs import configure_logging
from ticketbolt.bot.serve import serve
from ticketbolt.bot.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-worker", action="store_true", help="serve HTTP only")
    args = parser.parse_args()
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings, with_worker=not args.no_worker))


if __name__ == "__main__":
    main()
