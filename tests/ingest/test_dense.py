"""DenseIndex against real Chroma: a local store in tmp_path and a real `chroma run` server."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.dense import DenseIndex, collection_name
from ingest.errors import ConfigError, StoreError
from ingest.settings import Settings
from tests.servers import chroma_server, free_port

DIM = 8
MODEL = "intfloat/multilingual-e5-small"


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Return n random unit vectors."""
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def ids_for(n: int, prefix: str = "p") -> list[str]:
    """Return n distinct passage ids."""
    return [f"{prefix}{i:05d}" for i in range(n)]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


# --- names and laziness ---------------------------------------------------------------


def test_collection_name_is_readable_hashed_and_valid() -> None:
    assert collection_name(MODEL) == "passages-a1aa3841d29a-intfloat-multilingual-e5-small"
    assert collection_name("/srv/models/e5..v2/") == "passages-26ecddba744e-srv-models-e5-v2"
    assert collection_name("模型") == "passages-c98e118e0a43"
    assert collection_name("a/b") != collection_name("a-b")
    for model_id in (MODEL, "模型", "/srv/models/e5..v2/", "x" * 1000, "1.2.3.4"):
        name = collection_name(model_id)
        assert 3 <= len(name) <= 512
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]", name)
        assert ".." not in name


def test_importing_the_module_does_not_import_chromadb() -> None:
    code = (
        "import sys, ingest.dense; print('chromadb' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False False\n"


# --- local store (PersistentClient) ---------------------------------------------------------


def test_upsert_search_delete_and_reopen_from_disk(local: Settings) -> None:
    vectors, ids = unit_vectors(50), ids_for(50)
    with DenseIndex.open(local, MODEL, DIM) as index:
        index.upsert(ids, vectors, [{"n": i} if i % 2 else {} for i in range(50)])
        assert index.count() == 50
        hits = index.search(vectors[7], 5)
        assert hits[0][0] == "p00007"
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert len(index.search(vectors[7], 500)) == 50  # k beyond the count

        index.delete(["p00007", "p00008", "absent"])
        assert index.count() == 48
        assert index.ids() == set(ids) - {"p00007", "p00008"}
        assert "p00007" not in [i for i, _ in index.search(vectors[7], 50)]

        index.upsert(["p00009"], vectors[10:11])  # replaces, does not add
        assert index.count() == 48
        twins = index.search(vectors[10], 2)  # p00009 now holds p00010's vector: a tie
        assert {i for i, _ in twins} == {"p00009", "p00010"}
        assert [s for _, s in twins] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (local.data_dir / "chroma").is_dir()

    with DenseIndex.open(local, MODEL, DIM) as again:
        assert again.count() == 48
        assert again.ids() == set(ids) - {"p00007", "p00008"}
        assert again.search(vectors[3], 1)[0][0] == "p00003"


def test_search_of_an_empty_index_and_k_zero(local: Settings) -> None:
    with DenseIndex.open(local, MODEL, DIM) as index:
        assert index.search(unit_vectors(1)[0], 10) == []
        index.upsert(["a"], unit_vectors(1))
        assert index.search(unit_vectors(1), 0) == []
        assert index.ids() == {"a"}


def test_upsert_beyond_chromas_batch_limit(local: Settings) -> None:
    with DenseIndex.open(local, MODEL, 4) as index:
        n = index.batch_size + 3  # 5461 + 3 with chromadb 1.5
        index.upsert(ids_for(n), unit_vectors(n, 4))
        assert index.count() == n
        assert len(index.ids()) == n
        index.delete(ids_for(n)[1:])
        assert index.ids() == {"p00000"}


@pytest.mark.parametrize("n", [20, 21])  # 21 = 3 full pages, so ids() must stop on an empty one
def test_small_batches_cover_every_row(local: Settings, n: int) -> None:
    with DenseIndex.open(local, MODEL, DIM, batch_size=7) as index:
        assert index.batch_size == 7
        index.upsert(ids_for(n), unit_vectors(n))
        assert index.count() == n
        assert index.ids() == set(ids_for(n))
        index.delete(ids_for(n)[:15])
        assert index.ids() == set(ids_for(n)[15:])


def test_two_models_never_see_each_others_vectors(local: Settings) -> None:
    a = DenseIndex.open(local, "model-a", DIM)
    b = DenseIndex.open(local, "model-b", 4)
    a.upsert(ids_for(5, "a"), unit_vectors(5))
    b.upsert(ids_for(3, "b"), unit_vectors(3, 4))
    assert a.name != b.name
    assert a.ids() == set(ids_for(5, "a"))
    assert b.ids() == set(ids_for(3, "b"))
    assert {i for i, _ in b.search(unit_vectors(1, 4)[0], 10)} == set(ids_for(3, "b"))
    a.close()
    b.close()


def test_wrong_dimension_is_a_store_error(local: Settings) -> None:
    with DenseIndex.open(local, MODEL, DIM) as index:
        with pytest.raises(StoreError, match="have 8 dimensions, but 9 were given"):
            index.upsert(["x"], unit_vectors(1, 9))
        with pytest.raises(StoreError, match="have 8 dimensions, but 4 were given"):
            index.search(unit_vectors(1, 4)[0], 3)
        index.upsert(["x"], unit_vectors(1))
    with pytest.raises(StoreError, match=r"holds 8-dimensional vectors of .* but 16 dimensions"):
        DenseIndex.open(local, MODEL, 16)


def test_mismatched_lengths_are_store_errors(local: Settings) -> None:
    with DenseIndex.open(local, MODEL, DIM) as index:
        with pytest.raises(StoreError, match="Got 2 ids for 3 vectors"):
            index.upsert(["a", "b"], unit_vectors(3))
        with pytest.raises(StoreError, match="Got 1 metadatas for 3 ids"):
            index.upsert(["a", "b", "c"], unit_vectors(3), [{"n": 1}])


def test_drop_deletes_the_collection(local: Settings) -> None:
    index = DenseIndex.open(local, MODEL, DIM)
    index.upsert(ids_for(4), unit_vectors(4))
    index.drop()
    index.drop()  # idempotent
    with pytest.raises(StoreError, match="was dropped"):
        index.count()
    index.close()
    with DenseIndex.open(local, MODEL, 4) as fresh:  # a new model dimension is now fine
        assert fresh.count() == 0


def test_unusable_data_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="Cannot open the Chroma store at"):
        DenseIndex.open(Settings(data_dir=blocker), MODEL, DIM)


# --- Chroma server (HttpClient) ---------------------------------------------------------------


def test_server_upsert_search_delete(server_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, chroma_url=server_url)
    vectors, ids = unit_vectors(50, seed=1), ids_for(50)
    with DenseIndex.open(settings, MODEL, DIM, batch_size=16) as index:
        index.upsert(ids, vectors, [{"n": i} for i in range(50)])
        assert index.count() == 50
        hits = index.search(vectors[42], 3)
        assert hits[0][0] == "p00042"
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        index.delete(ids[:10])
        assert index.ids() == set(ids[10:])
        with pytest.raises(StoreError, match="have 8 dimensions, but 3 were given"):
            index.upsert(["x"], unit_vectors(1, 3))
    with DenseIndex.open(settings, "another-model", DIM) as other:
        assert other.count() == 0
    assert not (tmp_path / "chroma").exists()  # server mode writes nothing locally
    with DenseIndex.open(settings, MODEL, DIM) as index:
        assert index.count() == 40
        index.drop()


def test_unreachable_server_fails_fast_with_advice(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        DenseIndex.open(Settings(data_dir=tmp_path, chroma_url=url), MODEL, DIM)
    assert time.monotonic() - started < 3
    assert f"Cannot reach the Chroma server at {url}." in str(caught.value)
    assert "chroma run --path DIR --host 127.0.0.1 --port P" in str(caught.value)


def test_server_that_goes_away_is_a_store_error(tmp_path: Path) -> None:
    with chroma_server(tmp_path) as url:
        index = DenseIndex.open(Settings(data_dir=tmp_path, chroma_url=url), MODEL, DIM)
        index.upsert(["a"], unit_vectors(1))
    with pytest.raises(StoreError, match=f"Cannot reach the Chroma server at {url}"):
        index.search(unit_vectors(1)[0], 1)
    with pytest.raises(StoreError, match="Cannot reach the Chroma server"):
        index.count()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8000", "http://127.0.0.1:notaport"])
def test_malformed_server_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="HELPDESK_CHROMA_URL"):
        DenseIndex.open(Settings(data_dir=tmp_path, chroma_url=url), MODEL, DIM)
