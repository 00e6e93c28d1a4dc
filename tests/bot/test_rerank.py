"""Reranking: a tiny random cross-encoder, and fused hits re-ordered by its scores."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.rerank import CrossEncoderReranker, get_reranker, rerank_text
from bot.retrieve import HybridRetriever, fuse
from ingest.errors import ConfigError
from ingest.settings import Settings
from tests.fakes import HashEmbedder, hash_indexed
from tests.models import tiny_bert

ROOT = Path(__file__).resolve().parents[2]
QUERY = "合作伙伴怎么开发票?"
PAGES = {
    "invoice.md": ("为激励开票", "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。"),
    "mdf.md": ("市场发展基金核销", "活动结束之后须提交核销材料,逾期不予核销。"),
    "account.md": ("合作伙伴账号登录", "使用合作伙伴账号登录华为云,进入伙伴中心。"),
    "coupon.md": ("代金券发放", "伙伴中心可向客户发放代金券,客户领取后抵扣账单。"),
    "refund.md": ("退票与红冲", "已开具的发票如需作废,请提交退票申请,开具红字发票。"),
}
_TEXTS = [QUERY] + [t for title, text in PAGES.values() for t in (title, text)]
_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_VOCAB += sorted(set("".join(_TEXTS)) - set(" \n"))


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save a tiny random BERT with a one-logit classification head and its tokenizer."""
    folder = tmp_path_factory.mktemp("rerank") / "tiny-cross-encoder"
    # a wide initializer spreads the random logits so no two passages tie
    return tiny_bert(folder, _VOCAB, head="classifier", num_labels=1, initializer_range=0.5)


def model_scores(folder: Path, query: str, passages: Sequence[str]) -> list[float]:
    """Score (query, passage) pairs with transformers directly: sigmoid of the one logit."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = BertForSequenceClassification.from_pretrained(folder).eval()
    batch = tokenizer([query] * len(passages), list(passages), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits[:, 0]
    return torch.sigmoid(logits).tolist()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Ingest the five pages with the hash embedder; return their Settings."""
    # fused order unless a test plugs a reranker in
    return hash_indexed(tmp_path_factory.mktemp("rerank-store"), PAGES)


@pytest.fixture
def open_retriever(store: Settings) -> Iterator[list[HybridRetriever]]:
    """Collect the retrievers a test opens and close them after it."""
    opened: list[HybridRetriever] = []
    yield opened
    for retriever in opened:
        retriever.close()


def _open(opened: list[HybridRetriever], settings: Settings) -> HybridRetriever:
    retriever = HybridRetriever.open(settings, HashEmbedder())
    opened.append(retriever)
    return retriever


class ConstantReranker:
    """Give every passage the same score (so the fused order must survive)."""

    combiner = None

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        """Return 1.0 for each passage."""
        self.seen.append(list(passages))
        return [1.0] * len(passages)


def test_importing_the_module_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, bot.rerank; print(sorted(m for m in "
        "('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_cross_encoder_scores_each_passage_like_the_model(tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(str(tiny_cross_encoder))
    assert reranker.model.device.type == "cpu"
    texts = [f"{title}\n{text}" for title, text in PAGES.values()]
    scores = reranker.rerank(QUERY, texts)
    assert len(scores) == 5
    assert all(type(s) is float for s in scores)
    assert len(set(scores)) == 5
    assert scores == reranker.rerank(QUERY, texts)
    assert scores == pytest.approx(model_scores(tiny_cross_encoder, QUERY, texts), abs=1e-5)
    assert reranker.rerank(QUERY, []) == []
    with pytest.raises(TypeError):
        reranker.rerank(QUERY, "一段文字")


def test_rerank_text_is_the_title_then_the_text(store: Settings, open_retriever: list) -> None:
    (hit,) = _open(open_retriever, store).search("代金券", 1)
    assert rerank_text(hit.passage) == "代金券发放\n伙伴中心可向客户发放代金券,客户领取后抵扣账单。"


def test_reranked_hits_follow_the_cross_encoder(
    tiny_cross_encoder: Path, store: Settings, open_retriever: list
) -> None:
    plain = _open(open_retriever, store)
    fused = plain.search(QUERY, 5)
    assert len(fused) == 5
    retriever = _open(open_retriever, store)
    retriever.reranker = CrossEncoderReranker(str(tiny_cross_encoder))
    hits = retriever.search(QUERY, 5)

    expected = model_scores(tiny_cross_encoder, QUERY, [rerank_text(h.passage) for h in fused])
    by_model = sorted(range(5), key=lambda i: -expected[i])
    assert [h.passage.id for h in hits] == [fused[i].passage.id for i in by_model]
    assert [h.passage.id for h in hits] != [h.passage.id for h in fused]  # it did re-order
    assert [h.rerank_score for h in hits] == pytest.approx([expected[i] for i in by_model])
    before = {h.passage.id: h for h in fused}
    for hit in hits:  # ranks and fused scores are those of fusion
        was = before[hit.passage.id]
        assert (hit.score, hit.lexical_rank, hit.dense_rank) == (
            was.score,
            was.lexical_rank,
            was.dense_rank,
        )
        assert (hit.lexical_score, hit.dense_score) == (was.lexical_score, was.dense_score)


def test_only_the_top_candidates_are_reranked(
    tiny_cross_encoder: Path, store: Settings, open_retriever: list
) -> None:
    fused = _open(open_retriever, store).search(QUERY, 5)
    retriever = _open(open_retriever, store)
    retriever.reranker = CrossEncoderReranker(str(tiny_cross_encoder))
    retriever.rerank_candidates = 3
    hits = retriever.search(QUERY, 5)
    expected = model_scores(tiny_cross_encoder, QUERY, [rerank_text(h.passage) for h in fused[:3]])
    top = sorted(range(3), key=lambda i: -expected[i])
    assert [h.passage.id for h in hits] == [fused[i].passage.id for i in [*top, 3, 4]]
    assert [h.rerank_score is None for h in hits] == [False, False, False, True, True]


def test_k_below_the_candidates_reranks_the_candidates_then_cuts(
    store: Settings, open_retriever: list
) -> None:
    fused = _open(open_retriever, store).search(QUERY, 5)
    retriever = _open(open_retriever, store)
    fake = ConstantReranker()
    retriever.reranker = fake
    hits = retriever.search(QUERY, 2)
    assert len(fake.seen) == 1 and len(fake.seen[0]) == 5
    assert [h.passage.id for h in hits] == [h.passage.id for h in fused[:2]]  # ties keep order
    assert [h.rerank_score for h in hits] == [1.0, 1.0]


def test_no_rerank_model_means_no_reranker_and_fused_results(
    store: Settings, open_retriever: list
) -> None:
    assert store.rerank_model == "none"
    assert get_reranker(store) is None
    assert get_reranker(store.model_copy(update={"rerank_model": "  "})) is None
    retriever = _open(open_retriever, store)
    assert retriever.reranker is None
    hits = retriever.search(QUERY, 4)
    fused = fuse(retriever.lexical_search(QUERY, 50), retriever.dense_search(QUERY, 50))
    assert [(h.passage.id, h.score) for h in hits] == [(p, round(s, 6)) for p, s in fused[:4]]
    assert [h.rerank_score for h in hits] == [None] * 4


@pytest.mark.parametrize("name", ["{tmp}/no-such-reranker", "{tmp}", "nobody/no-such-reranker"])
def test_missing_model_is_a_config_error_naming_it(tmp_path: Path, name: str) -> None:
    name = name.format(tmp=tmp_path)
    with pytest.raises(ConfigError) as info:
        get_reranker(Settings(rerank_model=name))
    message = str(info.value)
    assert f"reranker model {name!r} could not be loaded" in message
    assert "HELPDESK_RERANK_MODEL" in message


def test_unknown_device_is_a_config_error(tiny_cross_encoder: Path) -> None:
    with pytest.raises(ConfigError, match="tpu"):
        get_reranker(Settings(rerank_model=str(tiny_cross_encoder), embed_device="tpu"))


def test_open_builds_the_reranker_from_the_settings(
    tiny_cross_encoder: Path,
    store: Settings,
    open_retriever: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HELPDESK_RERANK_MODEL", str(tiny_cross_encoder))
    monkeypatch.setenv("HELPDESK_RERANK_CANDIDATES", "4")
    settings = Settings(data_dir=store.data_dir, corpus=store.corpus)
    retriever = _open(open_retriever, settings)
    assert isinstance(retriever.reranker, CrossEncoderReranker)
    assert retriever.reranker.name == str(tiny_cross_encoder)
    assert retriever.rerank_candidates == 4
    hits = retriever.search(QUERY, 5)
    assert [h.rerank_score is None for h in hits] == [False] * 4 + [True]
    scores = [h.rerank_score for h in hits[:4] if h.rerank_score is not None]
    assert scores == sorted(scores, reverse=True)
