"""Embedding cache in SQLite: a text is embedded once per model, whatever the number of ingests."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

import numpy as np

from ingest.embed import Embedder, Kind, prepare

TABLE = "embedding_cache"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    model_id  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    text_sha1 TEXT    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB    NOT NULL,
    PRIMARY KEY (model_id, kind, text_sha1)
) WITHOUT ROWID
"""
_LOOKUP_CHUNK = 500  # stays under SQLite's bound-variable limit
EMBED_CHUNK = 1024  # texts per embedder call: progress is saved between calls


def text_key(text: str) -> str:
    """Return the sha1 of the exact text the embedder sees (after prepare())."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Serve vectors by (model_id, kind, sha1 of the embedded text); embed only the misses.

    The kind is part of the key because it selects the prompt, so the text actually embedded
    differs. Writes join the caller's open transaction if there is one (its commit keeps
    them); otherwise the cache commits after each embedder call, so a killed ingest keeps
    what it has paid for.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(_SCHEMA)
        self._hits = 0
        self._misses = 0

    def stats(self) -> tuple[int, int]:
        """Return (hits, misses) since construction; a miss is a distinct text embedded."""
        return self._hits, self._misses

    def _lookup(self, model_id: str, kind: str, dim: int, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT text_sha1, vector FROM {TABLE} WHERE model_id = ? AND kind = ? "
                f"AND dim = ? AND text_sha1 IN ({marks})",
                (model_id, kind, dim, *chunk),
            )
            found.update((key, blob) for key, blob in rows if len(blob) == dim * 4)
        return found

    def embed(self, embedder: Embedder, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        """Return (n, dim) float32 vectors for texts, embedding only those not cached yet."""
        items = prepare(texts)
        dim = embedder.dim
        out = np.empty((len(items), dim), dtype=np.float32)
        if not items:
            return out
        keys = [text_key(t) for t in items]
        found = self._lookup(embedder.model_id, kind, dim, sorted(set(keys)))
        missing: dict[str, str] = {}  # key -> text, each distinct miss once
        for key, text in zip(keys, items, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        # similar lengths together across chunks; the embedder batches within a call
        todo = sorted(missing.items(), key=lambda kv: len(kv[1]))
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start : start + EMBED_CHUNK]
            vectors = np.asarray(embedder.embed([t for _, t in chunk], kind), dtype=np.float32)
            if vectors.shape != (len(chunk), dim):
                raise ValueError(
                    f"embedder {embedder.model_id!r} returned shape {vectors.shape} "
                    f"for {len(chunk)} texts of dim {dim}"
                )
            self._store(embedder.model_id, kind, dim, chunk, vectors)
            for (key, _), vec in zip(chunk, vectors, strict=True):
                found[key] = vec.tobytes()
        self._misses += len(missing)
        self._hits += len(items) - len(missing)
        for row, key in enumerate(keys):
            out[row] = np.frombuffer(found[key], dtype="<f4")
        return out

    def _store(
        self, model_id: str, kind: str, dim: int, chunk: list[tuple[str, str]], vectors: np.ndarray
    ) -> None:
        own = not self.conn.in_transaction
        self.conn.executemany(
            f"INSERT OR REPLACE INTO {TABLE} (model_id, kind, text_sha1, dim, vector) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (model_id, kind, key, dim, np.ascontiguousarray(vec, dtype="<f4").tobytes())
                for (key, _), vec in zip(chunk, vectors, strict=True)
            ],
        )
        if own:
            self.conn.commit()
