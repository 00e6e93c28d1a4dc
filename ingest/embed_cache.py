"""Embedding cache in SQLite: a text is embedded once per model, whatever the number of ingests.

Vectors are stored as little-endian float16 in a rowid table keyed by a unique index. Both
halve the file: a 384-dim row takes ~1.1 kB on disk, against ~2.2 kB as float32 and ~4.7 kB
as float32 in the former WITHOUT ROWID table, whose ~1.6 kB rows overflowed their b-tree
pages. float16 moves a unit vector by a cosine of ~1e-7 (a query's scores by < 3e-5), far
below the ~1e-4 by which the bundled model's two engines already differ.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ingest.embed import Embedder, Kind, announce, prepare

TABLE = "embedding_cache"
_COLUMNS = "model_id, kind, text_sha1, dim, vector"
_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    model_id  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    text_sha1 TEXT    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB    NOT NULL  -- dim little-endian float16
)
"""
_INDEX = f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_key ON {TABLE} (model_id, kind, text_sha1)"
_STORED = "<f2"
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
    what it has paid for. Opening a store written before the float16 rowid table converts
    its vectors in one transaction.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        if _old_schema(conn):
            _migrate(conn)
        conn.execute(_CREATE.format(table=TABLE))
        conn.execute(_INDEX)
        self._hits = 0
        self._misses = 0

    def stats(self) -> tuple[int, int]:
        """Return (hits, misses) since construction; a miss is a distinct text embedded."""
        return self._hits, self._misses

    def _select(
        self, columns: str, model_id: str, kind: str, keys: list[str]
    ) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows += self.conn.execute(
                f"SELECT {columns} FROM {TABLE} WHERE model_id = ? AND kind = ? "
                f"AND text_sha1 IN ({marks})",
                (model_id, kind, *chunk),
            )
        return rows

    def _lookup(self, model_id: str, kind: str, dim: int, keys: list[str]) -> dict[str, bytes]:
        rows = self._select("text_sha1, dim, vector", model_id, kind, keys)
        return {key: blob for key, d, blob in rows if d == dim and len(blob) == dim * 2}

    def plan(self, embedder: Embedder, texts: Sequence[str], kind: Kind = "passage") -> int:
        """Announce to the embedder the passage text of texts not cached yet; return its length.

        A caller that embeds a large job in several calls announces it first, so that the
        embedder can pick its engine for the whole job (BundledE5Embedder.plan).
        """
        if kind != "passage":
            return 0
        missing = {text_key(t): t for t in prepare(texts)}
        cached = self._select("text_sha1", embedder.model_id, kind, sorted(missing))
        for (key,) in cached:
            missing.pop(key, None)
        chars = sum(map(len, missing.values()))
        announce(embedder, chars)
        return chars

    def embed(self, embedder: Embedder, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        """Return (n, dim) float32 unit vectors for texts, embedding only those not cached yet."""
        items = prepare(texts)
        dim = embedder.dim
        if not items:
            return np.empty((0, dim), dtype=np.float32)
        keys = [text_key(t) for t in items]
        found = self._lookup(embedder.model_id, kind, dim, sorted(set(keys)))
        missing: dict[str, str] = {}  # key -> text, each distinct miss once
        for key, text in zip(keys, items, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        if kind == "passage" and missing:
            announce(embedder, sum(map(len, missing.values())))
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
            blobs = [encode(vec) for vec in vectors]
            self._store(embedder.model_id, kind, dim, [k for k, _ in chunk], blobs)
            found.update(zip((k for k, _ in chunk), blobs, strict=True))
        self._misses += len(missing)
        self._hits += len(items) - len(missing)
        # fresh vectors come back as stored, so a hit later returns exactly the same values
        return decode([found[key] for key in keys], dim)

    def _store(
        self, model_id: str, kind: str, dim: int, keys: list[str], blobs: list[bytes]
    ) -> None:
        own = not self.conn.in_transaction
        if own:  # one transaction per call, also on an autocommit connection
            self.conn.execute("BEGIN")
        try:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                [(model_id, kind, key, dim, blob) for key, blob in zip(keys, blobs, strict=True)],
            )
        except BaseException:
            if own and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if own:
            self.conn.execute("COMMIT")


def encode(vector: np.ndarray) -> bytes:
    """Return a vector as the cache stores it: little-endian float16 bytes."""
    return np.ascontiguousarray(vector, dtype=_STORED).tobytes()


def decode(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Return stored vectors as an (n, dim) float32 array, each scaled back to unit length."""
    out = np.frombuffer(b"".join(blobs), dtype=_STORED).astype(np.float32).reshape(-1, dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _old_schema(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    return row is not None and "WITHOUT ROWID" in " ".join(row[0].upper().split())


def _float32_to_stored(blob: bytes) -> bytes:
    return encode(np.frombuffer(blob, dtype="<f4"))


def _migrate(conn: sqlite3.Connection) -> None:
    """Copy a float32 WITHOUT ROWID table into the float16 rowid table, in one transaction."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")  # two processes opening an old store migrate once
    try:
        if _old_schema(conn):  # checked again under the write lock
            new = f"{TABLE}_new"
            conn.create_function("cache_f32_to_f16", 1, _float32_to_stored, deterministic=True)
            conn.execute(f"DROP TABLE IF EXISTS {new}")
            conn.execute(_CREATE.format(table=new))
            conn.execute(
                f"INSERT INTO {new} ({_COLUMNS}) SELECT model_id, kind, text_sha1, dim, "
                f"cache_f32_to_f16(vector) FROM {TABLE} WHERE length(vector) = dim * 4"
            )
            conn.execute(f"DROP TABLE {TABLE}")
            conn.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
            conn.execute(_INDEX)
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")
