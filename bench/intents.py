"""Intent benchmarks: offline accuracy and throughput, and cached versus uncached LLM latency."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import openai
from redis.asyncio import Redis

from ticketbolt.cache.base import Cache
from ticketbolt.cache.layers import CacheLayer
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.cache.redis import RedisCache
from ticketbolt.integrations.intents.cascade import IntentCascade
from ticketbolt.integrations.intents.config import IntentsConfig, load_intents
from ticketbolt.integrations.intents.encoders import load_tier2
from ticketbolt.integrations.intents.evaluate import (
    clinc150_out_of_scope,
    clinc150_rows,
    run_eval,
    write_rows,
)
from ticketbolt.integrations.intents.fitting import fit_classifier
from ticketbolt.integrations.intents.model_cache import classifier_from_config
from ticketbolt.integrations.intents.offline import Encoder, OfflineClassifier, load_encoder
from ticketbolt.integrations.llm.client import LlmClassifier
from ticketbolt.integrations.llm.emulator import LlmEmulator

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "per_intent"}


def offline_benchmarks(encoder: Encoder, data: Path, tier2: Encoder | None) -> dict[str, Any]:
    """Banking77 (full, and 10 per intent as the mean of 3 samples) and CLINC150 (in scope,
    and its out-of-scope test set), scored by `run_eval` for the offline cascade; each report
    carries tier 1 alone (`tier1_*`) from the same fit, and per-tier figures in `tiers`."""
    banking = data / "banking77"
    results: dict[str, Any] = {}
    _log("banking77, full training set")
    results["banking77_full"] = _summary(
        run_eval(banking / "train.csv", banking / "test.csv", encoder=encoder, tier2=tier2)
    )
    _log("banking77, 10 examples per intent, 3 samples")
    results["banking77_10_per_intent"] = _summary(
        run_eval(
            banking / "train.csv",
            banking / "test.csv",
            per_intent=10,
            samples=3,
            encoder=encoder,
            tier2=tier2,
        )
    )
    _log("clinc150, in scope and out of scope")
    source = data / "clinc150" / "data_full.json"
    train, test = clinc150_rows(source)
    with tempfile.TemporaryDirectory() as tmp:
        outside = Path(tmp) / "oos.csv"
        with outside.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["text"], *([t] for t in clinc150_out_of_scope(source))])
        results["clinc150_in_scope"] = _summary(
            run_eval(
                write_rows(train, Path(tmp) / "train.csv"),
                write_rows(test, Path(tmp) / "test.csv"),
                out_of_scope=outside,
                encoder=encoder,
                tier2=tier2,
            )
        )
    return results


def default_intents_cv(encoder: Encoder, config: IntentsConfig, folds: int = 5) -> dict[str, Any]:
    """Cross-validated accuracy of the built-in intents, and coverage/accuracy per threshold."""
    texts, labels = config.training_rows()
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    confidence: list[float] = []
    correct: list[bool] = []
    for fold in range(folds):
        held = set(order[fold::folds])
        train = [i for i in order if i not in held]
        classifier = fit_classifier(encoder, [texts[i] for i in train], [labels[i] for i in train])
        tested = sorted(held)
        for i, prediction in zip(
            tested, classifier.classify_batch([texts[i] for i in tested]), strict=True
        ):
            confidence.append(prediction.confidence)
            correct.append(prediction.intent == labels[i])
    conf, ok = np.array(confidence), np.array(correct)
    return {
        "n": len(texts),
        "accuracy": round(float(ok.mean()), 4),
        "by_threshold": {
            str(t): {
                "coverage": round(float((conf >= t).mean()), 4),
                "accuracy_covered": round(float(ok[conf >= t].mean()), 4),
            }
            for t in THRESHOLDS
        },
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "n": len(samples),
    }


async def llm_latency(
    classifier: OfflineClassifier,
    config: IntentsConfig,
    cache: Cache,
    messages: list[str],
    latency: float,
) -> dict[str, Any]:
    """Each message through the cascade twice: first to the LLM, then from the cache."""
    async with LlmEmulator(latency=latency) as emulator:
        client = openai.AsyncOpenAI(
            api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0, timeout=10.0
        )
        try:
            llm = LlmClassifier(client, "gpt-4o-mini", config)
            layer = CacheLayer(cache, "intents", ttl=3600)
            # Threshold above 1 so every message takes the LLM path the benchmark measures.
            cascade = IntentCascade(classifier, llm, layer, threshold=1.01)
            timings: dict[str, list[float]] = {"llm": [], "cache": []}
            for _ in range(2):
                for message in messages:
                    started = time.perf_counter()
                    decision = await cascade.decide(message)
                    timings.setdefault(decision.stage, []).append(time.perf_counter() - started)
        finally:
            await client.close()
    return {
        "backend": cache.backend,
        "uncached": _percentiles(timings["llm"]),
        "cached": _percentiles(timings["cache"]),
        "llm_requests": len(emulator.requests),
        "layer": layer.snapshot(),
    }


async def llm_benchmarks(
    classifier: OfflineClassifier,
    config: IntentsConfig,
    samples: int,
    latency: float,
    redis_url: str | None,
) -> dict[str, Any]:
    examples = [e for intent in config.intents for e in intent.examples]
    messages = [
        f"{text} (#{i})" for i, text in enumerate(random.Random(1).choices(examples, k=samples))
    ]
    results = {"memory": await llm_latency(classifier, config, MemoryCache(), messages, latency)}
    if redis_url:
        client = Redis.from_url(redis_url)
        try:
            prefix = f"bench:{os.getpid()}:"
            cache = RedisCache(client, prefix=prefix)
            results["redis"] = await llm_latency(classifier, config, cache, messages, latency)
            keys = [key async for key in client.scan_iter(f"{prefix}*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
    return results


def _default_data_dir() -> Path:
    """$TICKETBOLT_DATA_DIR, else ./data, else the shared data beside a checkout."""
    if os.environ.get("TICKETBOLT_DATA_DIR"):
        return Path(os.environ["TICKETBOLT_DATA_DIR"])
    for candidate in (Path("data"), Path("..") / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return Path("data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=_default_data_dir(),
        help="folder holding banking77/ and clinc150/ "
        "(default: $TICKETBOLT_DATA_DIR, ./data or ../shared/data)",
    )
    parser.add_argument("--redis-url", help="also measure the LLM path over this Redis")
    parser.add_argument("--llm-samples", type=int, default=50)
    parser.add_argument("--llm-latency-ms", type=float, default=300.0)
    args = parser.parse_args()
    # The openai client's transport logs every request at INFO.
    logging.basicConfig(level=logging.WARNING)

    missing = [name for name in ("banking77", "clinc150") if not (args.data_dir / name).is_dir()]
    if missing:
        print(
            f"ticketbolt bench intents: no {' or '.join(missing)} folder in {args.data_dir}; "
            "point --data-dir (or TICKETBOLT_DATA_DIR) at the folder holding banking77/ and "
            "clinc150/",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    encoder = load_encoder()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tier2, tier2_status = load_tier2()
    tier2_seconds = time.perf_counter() - started
    config = load_intents()
    classifier = classifier_from_config(encoder, config)
    report: dict[str, Any] = {
        "encoder_load_seconds": round(load_seconds, 3),
        "tier2": tier2_status.detail,
        "tier2_load_seconds": round(tier2_seconds, 3) if tier2 is not None else None,
    }
    report.update(offline_benchmarks(encoder, args.data_dir, tier2))
    _log("default intents, 5-fold cross-validation")
    report["default_intents_cv"] = default_intents_cv(encoder, config)
    _log(f"LLM path, {args.llm_samples} messages at {args.llm_latency_ms:.0f} ms")
    report["llm_path"] = asyncio.run(
        llm_benchmarks(
            classifier, config, args.llm_samples, args.llm_latency_ms / 1000, args.redis_url
        )
    )
    if args.json:
        print(json.dumps(report))
        return 0
    print(report["tier2"])
    for name in ("banking77_full", "banking77_10_per_intent", "clinc150_in_scope"):
        r = report[name]
        print(
            f"{name:<26} cascade acc {r['accuracy']:.2%}  coverage {r['coverage']:.2%}"
            f" (acc {r['accuracy_covered']:.2%})  mean {r['latency_ms_mean']:.3f} ms,"
            f" p99 {r['latency_ms_p99']:.3f} ms; tier 1 alone acc {r['tier1_accuracy']:.2%},"
            f" {r['tiers'][0]['latency_ms_mean']:.3f} ms"
        )
        if "out_of_scope" in r:
            o, o1 = r["out_of_scope"], r["tier1_out_of_scope"]
            print(
                f"{'  out of scope':<26} cascade recall {o['recall']:.2%},"
                f" {o['false_handoffs']} false hand-offs; tier 1 alone {o1['recall']:.2%}"
            )
    cv = report["default_intents_cv"]
    print(f"{'default intents (5-fold)':<26} acc {cv['accuracy']:.2%} on {cv['n']} examples")
    for backend, r in report["llm_path"].items():
        print(
            f"LLM path ({backend:<6})          uncached p50 {r['uncached']['p50_ms']} ms"
            f" p99 {r['uncached']['p99_ms']} ms; cached p50 {r['cached']['p50_ms']} ms"
            f" p99 {r['cached']['p99_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
