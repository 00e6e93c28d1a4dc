"""The index stage keeps FTS5 and Chroma in step with the stored passages, incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.dense import DenseIndex
from ingest.index import Indexer, passage_of, passage_segments, segment_id
from ingest.lexical import LexicalIndex, load_terms
from ingest.lexicon import Tokenizer
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from ingest.store import Store
from tests.fakes import HashEmbedder, PlanningEmbedder

MDF = "MDF核销有效期多长? 自活动结束之日起,90天内须提交核销。不完整的核销最多保留45天。\n"
INVOICE = "为激励开票 为激励开票 合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。\n"
LEADS = "搜索线索 使用合作伙伴账号登录华为云。 单击“高级搜索”,伙伴可以根据公司名称查询线索。\n"


class OtherModel(HashEmbedder):
    model_id = "test:other-model"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mdf.txt").write_text(MDF, encoding="utf-8")
    (corpus / "invoice.txt").write_text(INVOICE, encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", corpus=corpus)


def indexes(
    settings: Settings, model_id: str = HashEmbedder.model_id
) -> tuple[set[str], set[str], set[str]]:
    """Return the ids in the store, in Chroma and in FTS5."""
    store = Store.open(settings.db_path)
    try:
        dense = DenseIndex.open(settings, model_id, HashEmbedder.dim)
        fts = LexicalIndex(store.conn, Tokenizer(load_terms(store.conn)))
        fts_ids = {pid for (pid,) in store.conn.execute("SELECT passage_id FROM lexical_docs")}
        assert fts.count() == len(fts_ids)
        return store.passage_ids(), {passage_of(v) for v in dense.ids()}, fts_ids
    finally:
        store.close()


def test_a_first_ingest_fills_both_indexes(settings: Settings) -> None:
    embedder = HashEmbedder()
    report = run_ingest([settings.corpus], settings, embedder=embedder)
    stored, dense, fts = indexes(settings)
    assert len(stored) == 2 and stored == dense == fts
    store = Store.open(settings.db_path)
    sentences = sum(len(passage_segments(p)) for p in store.passages())
    assert sentences == 3  # one vector per sentence, each after the passage's title
    assert (report.embedded, report.vectors_added, embedder.texts) == (3, 2, 3)
    fts_index = LexicalIndex(store.conn, Tokenizer(load_terms(store.conn)))
    (best, _), *_ = fts_index.search("激励开票能开什么票", 5)
    assert store.get_passages([best])[0].title == "为激励开票"
    assert "为激励开票" in load_terms(store.conn)  # mined from the title
    store.close()


def test_only_new_and_changed_passages_are_embedded(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    (settings.corpus / "leads.txt").write_text(LEADS, encoding="utf-8")
    (settings.corpus / "mdf.txt").write_text(MDF.replace("45天", "60天"), encoding="utf-8")
    embedder = HashEmbedder()
    report = run_ingest([settings.corpus], settings, embedder=embedder)
    assert (report.added, report.removed) == (2, 1)
    # The changed MDF passage shares one sentence with its old version: that one is cached.
    assert (report.embedded, report.vectors_added, report.vectors_removed) == (3, 2, 1)
    assert embedder.texts == 3
    stored, dense, fts = indexes(settings)
    assert len(stored) == 3 and stored == dense == fts


def test_an_unchanged_rerun_embeds_nothing(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    embedder = HashEmbedder()
    report = run_ingest([settings.corpus], settings, embedder=embedder)
    assert report.unchanged and embedder.calls == 0 and report.embedded == 0


def test_a_text_embedded_before_is_served_from_the_cache(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    (settings.corpus / "mdf.txt").rename(settings.corpus / "mdf-moved.txt")
    embedder = HashEmbedder()
    report = run_ingest([settings.corpus], settings, embedder=embedder)
    assert report.updated == 1  # same passage, new source path
    assert embedder.texts == 0


def test_a_new_embedding_model_reembeds_everything_and_drops_the_old_vectors(
    settings: Settings,
) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    other = OtherModel()
    report = run_ingest([settings.corpus], settings, embedder=other)
    assert not report.unchanged and report.embed_model == "test:other-model"
    assert other.texts == 3
    stored, dense, _ = indexes(settings, "test:other-model")
    assert stored == dense
    _, old_dense, _ = indexes(settings, HashEmbedder.model_id)
    assert old_dense == set()


def test_vectors_left_by_a_run_killed_after_its_commit_are_repaired(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    store = Store.open(settings.db_path)
    indexer = Indexer(store, settings, HashEmbedder())
    keep = sorted(store.passage_ids())[0]
    indexer.dense.delete([segment_id(keep, 0), segment_id(keep, 1)])  # as if they never landed
    indexer.dense.upsert(["stale-passage-id"], HashEmbedder().embed(["旧的段落"], "passage"))
    indexer.close()
    store.close()
    report = run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    assert report.unchanged
    assert (report.vectors_added, report.vectors_removed) == (1, 1)
    stored, dense, _ = indexes(settings)
    assert stored == dense


def test_the_run_announces_its_uncached_passage_text_before_embedding(settings: Settings) -> None:
    first = PlanningEmbedder()
    run_ingest([settings.corpus], settings, embedder=first)
    store = Store.open(settings.db_path)
    chars = sum(len(t) for p in store.passages() for t in passage_segments(p))
    store.close()
    assert first.log[0] == ("plan", chars)
    assert sum(n for entry, n in first.log if entry == "embed") == chars

    (settings.corpus / "mdf.txt").write_text(MDF.replace("45天", "60天"), encoding="utf-8")
    second = PlanningEmbedder()
    run_ingest([settings.corpus], settings, embedder=second)
    # The changed passage's first sentence is cached: only its new one is announced.
    changed = "MDF核销有效期多长? 不完整的核销最多保留60天。"
    assert second.log[0] == ("plan", len(changed))
    assert [n for entry, n in second.log if entry == "embed"] == [len(changed)]
