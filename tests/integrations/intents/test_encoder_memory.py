"""Tier 1 reads wordllama's files itself: wordllama's vectors, without its heavy imports."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ticketbolt.bot.assistant_setup import build_engine
from ticketbolt.bot.settings import load_settings
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.integrations.intents import encoders
from ticketbolt.integrations.intents.offline import Encoder

ROOT = Path(__file__).resolve().parents[3]
# Libraries the service must not import at start with tier 2 off and no LLM configured:
# scikit-learn (and scipy) only fit, openai only talks to a configured LLM, and wordllama's
# files are read without its package.
NOT_AT_START = ["onnxruntime", "openai", "scipy", "sklearn", "wordllama"]
TEXTS = [
    "Where is my order? It was due on Monday.",
    "I want a refund for order #1234, the parcel arrived damaged",
    "héllo wörld 🎫 — ça marche?",
    "refund refund refund refund",
    "   ",
    "a",
    # Longer than one pooling step on its own.
    " ".join(f"word{n}" for n in range(2 * encoders.POOL_TOKENS)),
    # Many texts of one length: a length group split over several pooling steps.
    *(f"order {n} is late" for n in range(400)),
]


@pytest.fixture(scope="module")
def wordllama_model() -> Any:
    """wordllama's own inference model, loaded the way its documentation shows."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama  # its import calls logging.basicConfig; undone below

    root.handlers[:] = handlers
    root.setLevel(level)
    return wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True
    )


def test_vectors_equal_wordllamas_own(encoder: Encoder, wordllama_model: Any) -> None:
    """A batch gives exactly the vectors `WordLlama.embed(norm=True)` gives, so the fitted-model
    cache and the accuracy figures measured with them stay valid."""
    expected = wordllama_model.embed(TEXTS, norm=True)

    actual = encoder.embed(TEXTS)

    np.testing.assert_array_equal(expected, actual)
    assert np.float32 == actual.dtype


def test_one_text_gives_its_vector_in_a_batch(encoder: Encoder) -> None:
    """The live path (one message) and the batch path give the same vector, to the bit."""
    batch = encoder.embed(TEXTS[:8])

    singles = np.vstack([encoder.embed([text]) for text in TEXTS[:8]])

    np.testing.assert_array_equal(batch, singles)


def test_empty_texts_give_zero_vectors(encoder: Encoder) -> None:
    """An empty text gives the zero vector, alone or between others, and no texts no rows."""
    vectors = encoder.embed(["", "refund please", ""])

    assert (3, encoder.dim) == vectors.shape
    assert [0.0, 0.0] == [float(np.abs(vectors[0]).max()), float(np.abs(vectors[2]).max())]
    assert 1.0 == pytest.approx(float(np.linalg.norm(vectors[1])))
    assert (1, encoder.dim) == encoder.embed([""]).shape
    assert (0, encoder.dim) == encoder.embed([]).shape


def test_table_rows_are_the_weights_files(wordllama_model: Any) -> None:
    """Rows read from the weights file are wordllama's table, widened to float32."""
    import wordllama  # imported (its logging set-up undone) by the fixture already

    weights = Path(wordllama.__file__).parent / encoders.WORDLLAMA_WEIGHTS
    table = encoders.SafetensorRows(weights, encoders.WORDLLAMA_TENSOR)
    ids = np.array([0, 1, 29871, 31999, 1, 0], dtype=np.int64)

    rows = table.read(ids)

    np.testing.assert_array_equal(wordllama_model.embedding[ids], rows)
    assert (32000, 256) == (table.count, table.dim)


def test_each_row_is_read_from_the_file_once(
    wordllama_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token met again is served from the rows already read: the file is read once per
    distinct token, and the rows stay wordllama's."""
    import wordllama

    weights = Path(wordllama.__file__).parent / encoders.WORDLLAMA_WEIGHTS
    table = encoders.SafetensorRows(weights, encoders.WORDLLAMA_TENSOR)
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        reads.append(offset)
        return real_pread(fd, length, offset)

    monkeypatch.setattr(encoders.os, "pread", counting_pread)
    first = table.read(np.array([5, 7, 5], dtype=np.int64))
    again = table.read(np.array([7, 9, 5], dtype=np.int64))

    assert 3 == len(reads) == len(set(reads))  # rows 5, 7 and 9, once each
    np.testing.assert_array_equal(wordllama_model.embedding[[5, 7, 5]], first)
    np.testing.assert_array_equal(wordllama_model.embedding[[7, 9, 5]], again)


def modules_after(code: str, env: dict[str, str]) -> list[str]:
    """Which of NOT_AT_START a fresh interpreter has imported after running `code`."""
    found = f"[m for m in {NOT_AT_START!r} if m in sys.modules]"
    script = f"import json, sys\n{code}\nprint(json.dumps({found}))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    imported: list[str] = json.loads(done.stdout.splitlines()[-1])
    return imported


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """A fitted-model cache already warm (as on any start after the first), tier 2 off, no LLM."""
    settings = {"TICKETBOLT_ENCODER_MODEL": "off", "TICKETBOLT_MODEL_CACHE_DIR": str(tmp_path)}
    build_engine(load_settings(settings), MemoryCache(), None)  # fits once, into tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TICKETBOLT_"))}
    return {**env, **settings}


@pytest.mark.slow
def test_composition_root_imports_no_heavy_library(service_env: dict[str, str]) -> None:
    """Importing the service's composition root imports none of scikit-learn, scipy, openai,
    wordllama or onnxruntime."""
    assert [] == modules_after("import ticketbolt.bot.container", service_env)


@pytest.mark.slow
def test_assistant_built_from_a_warm_cache_imports_no_heavy_library(
    service_env: dict[str, str],
) -> None:
    """Building the assistant as the service does, tier 2 off, no LLM and the fitted model
    cached, still imports none of them: prediction is numpy, and no LLM client is made."""
    code = (
        "import ticketbolt.bot.container\n"
        "from ticketbolt.bot.assistant_setup import build_engine\n"
        "from ticketbolt.bot.settings import load_settings\n"
        "from ticketbolt.cache.memory import MemoryCache\n"
        "build_engine(load_settings(), MemoryCache(), None)"
    )

    assert [] == modules_after(code, service_env)
