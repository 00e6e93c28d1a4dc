"""The bm25s read index: built after each ingest, used when current, else FTS5 answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.retrieve import HybridRetriever
from ingest import lexical_bm25
from ingest.lexical import LexicalIndex, load_terms
from ingest.lexical_bm25 import META_KEY, Bm25Index
from ingest.lexicon import Tokenizer
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from ingest.store import Store
from tests.fakes import HashEmbedder
from tests.ingest.test_lexical import HOSTILE

PAGES = {
    "mdf.txt": "MDF核销有效期多长? 自活动结束之日起,90天内须提交核销。不完整的核销最多保留45天。\n",
    "invoice.txt": "为激励开票 合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。\n",
    "errors.txt": "错误码 状态码4xx:华为云会返回4xx错误码,请及时检查请求消息的正确性。 "
    "HTTP状态码 错误码 描述 400 CBC.0100\n",
    "leads.txt": "搜索线索 使用合作伙伴账号登录华为云。 "
    "单击“高级搜索”,伙伴可以根据公司名称查询线索。\n",
}
LEADS_EXTRA = "敏感关系申报 申报贵公司与华为员工的敏感关系,单击“确定”。 系统提示保存成功。\n"
# Queries and words of the passage both lexical paths rank first.
QUERIES = [
    ("MDF核销有效期", "90天内"),
    ("激励开票能开什么发票", "激励金额"),
    ("CBC.0100", "CBC.0100"),
    ("cbc.0100 是什么错误", "CBC.0100"),
    ("怎么搜索线索", "高级搜索"),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in PAGES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", corpus=corpus)


def open_lexical(settings: Settings) -> tuple[Store, LexicalIndex, LexicalIndex]:
    """Return the store, its FTS5-only index and the index a retriever would use."""
    store = Store.open(settings.db_path)
    tokenizer = Tokenizer(load_terms(store.conn))
    bm25 = Bm25Index.open_current(store, settings.data_dir / lexical_bm25.DIR_NAME)
    return store, LexicalIndex(store.conn, tokenizer), LexicalIndex(store.conn, tokenizer, bm25)


def best_text(store: Store, hits: list[tuple[str, float]]) -> str:
    passage = store.get_passages([hits[0][0]])[0]
    return f"{passage.title} {passage.text}"


def test_ingest_builds_an_index_that_agrees_with_fts5(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    assert (settings.data_dir / "bm25s" / lexical_bm25.IDS_FILE).is_file()
    store, fts, fast = open_lexical(settings)
    assert fast.uses_bm25s and not fts.uses_bm25s
    assert store.get_meta(META_KEY) == lexical_bm25.current_fingerprint(store)
    assert store.get_meta(META_KEY).startswith("4:")  # type: ignore[union-attr]
    for query, words in QUERIES:
        hits = fast.search(query, 10)
        assert words in best_text(store, hits), query
        assert hits[0][0] == fts.search(query, 10)[0][0], query
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert len(fast.search("华为云 核销 发票 线索", 100)) == 4  # k clamped to the corpus
    store.close()


def test_unchanged_rerun_keeps_the_index_and_a_change_rebuilds_it(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    store = Store.open(settings.db_path)
    before = store.get_meta(META_KEY)
    store.close()
    data = settings.data_dir / "bm25s" / "data.csc.index.npy"
    mtime = data.stat().st_mtime_ns
    assert run_ingest([settings.corpus], settings, embedder=HashEmbedder()).unchanged
    assert data.stat().st_mtime_ns == mtime  # not rebuilt

    (settings.corpus / "sensitive.txt").write_text(LEADS_EXTRA, encoding="utf-8")
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    store, _, fast = open_lexical(settings)
    after = store.get_meta(META_KEY)
    assert after != before and after is not None and after.startswith("5:")
    assert fast.uses_bm25s
    assert "华为员工" in best_text(store, fast.search("敏感关系申报", 5))
    store.close()
    assert not list(settings.data_dir.glob("bm25s.*"))  # no temporary folders left


def test_a_missing_meta_key_falls_back_to_fts5(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    store = Store.open(settings.db_path)
    with store.transaction():
        store.conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
    store.close()
    store, _, lexical = open_lexical(settings)
    assert not lexical.uses_bm25s
    assert "CBC.0100" in best_text(store, lexical.search("CBC.0100", 5))
    store.close()
    # The next (unchanged) run repairs it.
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    store, _, lexical = open_lexical(settings)
    assert lexical.uses_bm25s
    store.close()


def test_a_run_killed_before_the_rebuild_falls_back_to_fts5(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    (settings.corpus / "sensitive.txt").write_text(LEADS_EXTRA, encoding="utf-8")

    def killed(store: Store, directory: Path) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(lexical_bm25, "refresh", killed)
    with pytest.raises(KeyboardInterrupt):
        run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    monkeypatch.undo()

    retriever = HybridRetriever.open(settings, HashEmbedder(), mode="lexical")
    try:
        assert not retriever.lexical.uses_bm25s  # the saved index lacks the new passage
        hits = retriever.search("敏感关系申报", 3)
        assert "华为员工" in hits[0].passage.text
    finally:
        retriever.close()


def test_the_retriever_uses_the_index_and_survives_hostile_queries(settings: Settings) -> None:
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    retriever = HybridRetriever.open(settings, HashEmbedder())
    try:
        assert retriever.lexical.uses_bm25s
        assert "CBC.0100" in retriever.search("CBC.0100", 3)[0].passage.text
        for query in HOSTILE:
            for pid, score in retriever.lexical.search(query, 10):
                assert isinstance(pid, str) and score > 0
            retriever.search(query, 5)
        assert retriever.lexical.search("", 10) == []
        assert retriever.lexical.search("完全无关的词语 zzzz", 10) == []
        assert retriever.lexical.search("核销", 0) == []
    finally:
        retriever.close()
