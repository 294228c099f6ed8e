"""RSS of one fresh process as it loads what `ticketbolt run` loads, step by step (JSON on stdout).

Run by `bench memory` as `python -m ticketbolt.bench.tiers_probe MODE`. Steps: the interpreter;
the service's imports (the composition root, `ticketbolt.bot.container`); the tier-1 word-embedding
encoder (its tokenizer; the table is read from wordllama's file as rows are needed); the assistant
as the service builds it (`build_engine`: tier-1 classifier head, knowledge base), with tier 2 off
(`tier1`) or with the defaults (`default`: tier 2 too when the tree and the installed extras
provide it). Each step reports RSS after it and which heavy libraries are imported by then.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any

from ticketbolt.bench.stats import rss_mb

HEAVY = ("numpy", "scipy", "sklearn", "openai", "wordllama", "tokenizers", "onnxruntime", "torch")


def step(name: str, steps: list[dict[str, Any]]) -> None:
    gc.collect()
    steps.append(
        {
            "step": name,
            **rss_mb(os.getpid()),
            "heavy_modules": [m for m in HEAVY if m in sys.modules],
        }
    )


def main(argv: list[str]) -> int:
    """`argv[0]`: `tier1` builds the assistant with tier 2 off (TICKETBOLT_ENCODER_MODEL=off),
    `default` as the service does with no settings."""
    mode = argv[0] if argv else "default"
    steps: list[dict[str, Any]] = []
    step("interpreter", steps)
    import ticketbolt.bot.container  # noqa: F401, PLC0415

    step("service imports", steps)
    from ticketbolt.bot.assistant_setup import build_engine  # noqa: PLC0415
    from ticketbolt.bot.settings import load_settings  # noqa: PLC0415
    from ticketbolt.cache.memory import MemoryCache  # noqa: PLC0415
    from ticketbolt.integrations.intents.encoders import load_wordllama  # noqa: PLC0415

    load_wordllama()  # once per process: build_engine reuses it
    step("tier-1 encoder loaded", steps)
    values = {"TICKETBOLT_ENCODER_MODEL": "off"} if mode == "tier1" else {}
    engine = build_engine(load_settings(values), MemoryCache(), None)
    step(f"assistant built ({mode})", steps)
    print(json.dumps({"mode": mode, "steps": steps, "engine": type(engine).__name__}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
