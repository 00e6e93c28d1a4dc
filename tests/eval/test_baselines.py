"""The baselines: what they index and answer, and that they score below ours on the seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from eval.baselines import (
    CHUNK_SIZE,
    BM25Baseline,
    NaiveLangChainBaseline,
    langchain_embeddings,
    raw_texts,
)
from eval.faqset import load_faq
from ingest.settings import Settings
from tests.fakes import HashEmbedder

DEV = Path(__file__).parents[2] / "eval" / "faq" / "dev.jsonl"
BANNER = "检测到您已登录华为云国际站账号,为了您更好的体验,建议您访问国际站服务网站"
LINES = [
    BANNER,
    "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。",
    "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。",
    "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。",
]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "page.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    (root / "more.txt").write_text("\n".join(LINES[1:] * 3) + "\n", encoding="utf-8")
    return root


def test_bm25_indexes_every_raw_line_and_answers_with_the_best(corpus: Path) -> None:
    bm25 = BM25Baseline(raw_texts(corpus))
    assert [line.text for line in bm25.lines] == LINES[1:] * 3 + LINES  # nothing dropped
    reply = bm25.ask("MDF活动结束后多少天内提交核销?")
    assert reply.refused is False
    assert reply.text == f"{LINES[2]} [1]"
    assert [(c.n, c.quote, c.text) for c in reply.citations] == [(1, LINES[2], LINES[2])]
    assert reply.hits[0].title == "more.txt:2"  # files in path order, lines numbered from 1
    hits = bm25.search("增值税专用发票")
    assert len(hits) == 5 and {h.text for h in hits} == {LINES[1]}  # every copy, no dedupe


def test_bm25_refuses_only_when_no_line_shares_a_word(corpus: Path) -> None:
    reply = BM25Baseline(raw_texts(corpus)).ask("How do I reset my password?")
    assert (reply.refused, reply.citations, reply.hits) == (True, (), ())


def test_naive_langchain_chunks_raw_files_into_chroma_and_answers_the_first(
    corpus: Path,
) -> None:
    naive = NaiveLangChainBaseline(raw_texts(corpus), HashEmbedder())
    try:
        # more.txt (366 characters) takes two chunks, page.txt (160) one
        assert naive.chunks == 3
        hits = naive.search("90天内须提交核销", k=10)
        assert len(hits) == 3 and all(len(h.text) <= CHUNK_SIZE for h in hits)
        reply = naive.ask("90天内须提交核销")
        assert reply.refused is False and "90天内须提交核销" in reply.text
        assert reply.citations[0].quote == hits[0].text == reply.citations[0].text
        assert naive.ask("password?").refused is False  # never refuses
    finally:
        naive.close()


def test_the_product_embedder_as_langchain_embeddings() -> None:
    emb = langchain_embeddings(HashEmbedder())
    docs = emb.embed_documents(["开具发票", "提交核销"])
    assert len(docs) == 2 and len(docs[0]) == 64 and isinstance(docs[0][0], float)
    assert len(emb.embed_query("发票")) == 64


@pytest.mark.slow
def test_baselines_score_below_ours_on_the_dev_set(
    seed_index: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(seed_index.data_dir))
    monkeypatch.setenv("HELPDESK_CORPUS", str(seed_index.corpus))
    metrics, reports = {}, {}
    for system in ("ours", "bm25", "naive-langchain"):
        out = tmp_path / system
        args = ["eval", str(DEV), "--system", system, "--out", str(out), "--json"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        metrics[system] = json.loads(result.output.strip().splitlines()[-1])["all"]
        reports[system] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    ours = metrics["ours"]
    for baseline in ("bm25", "naive-langchain"):
        assert metrics[baseline]["cases"] == ours["cases"] == len(load_faq(DEV))
        assert metrics[baseline]["fact_coverage"] < ours["fact_coverage"], metrics
        assert metrics[baseline]["hit1"] < ours["hit1"], metrics
    # the naive RAG never refuses; BM25 refuses exactly when no line shares a word
    assert metrics["naive-langchain"]["refusal_recall"] == 0.0
    assert all(c["hits"] == [] for c in reports["bm25"]["cases"] if c["refused"])
