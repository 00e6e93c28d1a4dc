"""Test doubles that implement the product's one-method protocols (plugged in at the seams)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ingest.embed import Kind
from ingest.settings import Settings
from ingest.text import match_key


class HashEmbedder:
    """A deterministic embedder: character bigrams hashed into 64 dimensions, L2-normalized.

    Texts sharing words get similar vectors, which is enough to test the plumbing of the
    dense side without loading a model. It counts the texts it was asked to embed.
    """

    model_id = "test:hash-bigrams-64"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Return (n, 64) unit vectors."""
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            key = match_key(text)
            for i in range(max(len(key) - 1, 1)):
                out[row, zlib.crc32(key[i : i + 2].encode()) % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row])) or 1.0
            out[row] /= norm
        return out


class PlanningEmbedder(HashEmbedder):
    """A HashEmbedder that also logs plan() announcements and the characters of each embed call."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, int]] = []

    def plan(self, total_chars: int) -> None:
        """Log the announcement."""
        self.log.append(("plan", total_chars))

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Log the characters asked for, then embed like HashEmbedder."""
        self.log.append(("embed", sum(map(len, texts))))
        return super().embed(texts, kind)


def hash_indexed(root: Path, pages: Mapping[str, tuple[str, str]]) -> Settings:
    """Ingest pages {file name: (title, text)} under root with the hash embedder, no reranker."""
    from ingest.pipeline import run_ingest

    corpus = root / "corpus"
    corpus.mkdir()
    for name, (title, text) in pages.items():
        (corpus / name).write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    settings = Settings(data_dir=root / "data", corpus=corpus, rerank_model="none")
    run_ingest([corpus], settings, embedder=HashEmbedder())
    return settings
