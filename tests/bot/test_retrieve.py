"""Hybrid retrieval over real indexes: the seed with the real model, small stores with a fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.retrieve import HybridRetriever, fuse
from ingest.errors import ConfigError, IndexMissingError
from ingest.index import Indexer
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from ingest.store import Store
from tests.fakes import HashEmbedder


def test_fuse_sums_reciprocal_ranks() -> None:
    fused = fuse([("a", 9.0), ("b", 5.0)], [("b", 0.9), ("c", 0.8)], rrf_k=60)
    assert [pid for pid, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 61)


def test_fuse_of_nothing_is_nothing() -> None:
    assert fuse([], []) == []


@pytest.fixture
def retriever(seed_index: Settings, bundled_embedder: Any) -> Any:
    r = HybridRetriever.open(seed_index, bundled_embedder)
    yield r
    r.close()


def test_chinese_question_finds_the_invoice_article_first(retriever: HybridRetriever) -> None:
    (first, *_) = retriever.search("激励开票可以开哪些发票?", 5)
    assert first.passage.title == "为激励开票"
    assert first.lexical_rank == 1 and first.dense_rank is not None
    assert first.ranks == {"lexical": 1, "dense": first.dense_rank}


def test_english_question_reaches_the_chinese_passage(retriever: HybridRetriever) -> None:
    hits = retriever.search("Which invoice types can partners issue for incentives?", 5)
    assert "为激励开票" in [h.passage.title for h in hits]
    invoice = next(h for h in hits if h.passage.title == "为激励开票")
    assert invoice.dense_rank is not None and invoice.dense_score is not None


def test_error_codes_match_lexically(retriever: HybridRetriever) -> None:
    (first, *_) = retriever.search("cbc.0100", 3)
    assert "400 CBC.0100" in first.passage.text
    assert first.lexical_rank == 1


def test_blank_queries_and_k_bounds(retriever: HybridRetriever) -> None:
    assert retriever.search("   ", 5) == []
    assert retriever.search("发票", 0) == []
    assert len(retriever.search("发票", 3)) == 3


def test_hits_are_sorted_by_fused_score(seed_index: Settings, bundled_embedder: Any) -> None:
    plain = seed_index.model_copy(update={"rerank_model": "none"})
    retriever = HybridRetriever.open(plain, bundled_embedder)
    try:
        hits = retriever.search("MDF核销有效期", 10)
    finally:
        retriever.close()
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].passage.title == "MDF核销有效期多长?"


def small_store(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "MDF核销有效期多长? 自活动结束之日起,90天内须提交核销。\n", encoding="utf-8"
    )
    settings = Settings(data_dir=tmp_path / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=HashEmbedder())
    return settings


def test_dense_hits_the_store_no_longer_holds_are_dropped(tmp_path: Path) -> None:
    settings = small_store(tmp_path)
    store = Store.open(settings.db_path)
    indexer = Indexer(store, settings, HashEmbedder())
    indexer.dense.upsert(["gone:0"], HashEmbedder().embed(["90天内须提交核销"], "passage"))
    indexer.close()
    store.close()
    retriever = HybridRetriever.open(settings, HashEmbedder())
    try:
        hits = retriever.search("90天内须提交核销", 5)
        assert [h.passage.title for h in hits] == ["MDF核销有效期多长?"]
    finally:
        retriever.close()


def test_lexical_mode_needs_no_embedder(tmp_path: Path) -> None:
    settings = small_store(tmp_path)
    retriever = HybridRetriever.open(settings, mode="lexical")
    try:
        (hit,) = retriever.search("核销", 5)
        assert hit.dense_rank is None and hit.lexical_rank == 1
    finally:
        retriever.close()


def test_an_index_built_with_another_model_is_a_config_error(tmp_path: Path) -> None:
    settings = small_store(tmp_path)

    class Other(HashEmbedder):
        model_id = "test:other"

    with pytest.raises(ConfigError, match="helpdesk ingest"):
        HybridRetriever.open(settings, Other())


def test_no_index_yet_says_to_ingest(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="helpdesk ingest"):
        HybridRetriever.open(Settings(data_dir=tmp_path / "empty"), HashEmbedder())
