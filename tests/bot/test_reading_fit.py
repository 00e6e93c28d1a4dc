"""The combiner: fitted over a real fused retriever, it ranks by the reader, refuses without."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.reading.combine import (
    ANSWER_FEATURES,
    CANDIDATE_FEATURES,
    Combiner,
    LinearModel,
    answer_features,
)
from bot.reading.fit import fit_combiner
from bot.reading.mine import Question
from bot.retrieve import HybridRetriever
from tests.fakes import HashEmbedder, hash_indexed

PAGES = {
    "invoice.md": ("为激励开票", "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。"),
    "deadline.md": ("激励开票截止日期", "申付单进入待伙伴开票状态后,伙伴须在40天内完成开票。"),
    "mdf.md": ("市场发展基金核销", "活动结束之后90天内须提交核销材料,逾期不予核销。"),
    "coupon.md": ("代金券发放", "伙伴中心可向客户发放代金券,单张面额最高3万元。"),
    "fee.md": ("提现手续费", "华为云不收取提现手续费,跨行入账费用由伙伴承担。"),
}
ANSWERS = {"发票": "为激励开票", "截止": "激励开票截止日期", "核销": "市场发展基金核销"}


class KeywordReader:
    """A stand-in reader: sure of a passage whose title the question's keyword points at."""

    combiner = None

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        wanted = next((title for word, title in ANSWERS.items() if word in query), None)
        return [0.95 if wanted and p.startswith(wanted) else 0.05 for p in passages]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = hash_indexed(tmp_path_factory.mktemp("fit"), PAGES)
    r = HybridRetriever.open(settings, HashEmbedder())
    yield r
    r.close()


def _questions(retriever: HybridRetriever) -> list[Question]:
    by_title = {p.title: p.id for p in retriever.store.passages()}
    asked = [
        ("激励的发票可以开专票吗", "发票"),
        ("开票要在多少天内完成截止", "截止"),
        ("活动办完多久要交核销", "核销"),
        ("发票类型有哪些", "发票"),
        ("核销材料什么时候交", "核销"),
        ("截止日期从哪天算", "截止"),
    ]
    answered = [Question(q, (by_title[ANSWERS[w]],)) for q, w in asked]
    unanswered = [
        Question(q, (), kind="unstated")
        for q in ("代金券可以提现吗", "手续费发票怎么开", "提现多久到账", "代金券能转让吗")
    ]
    return answered + unanswered


def test_fitted_ranker_puts_the_readers_choice_first(retriever: HybridRetriever) -> None:
    combiner, report = fit_combiner(_questions(retriever), retriever, KeywordReader(), 5)
    assert report.questions == 10 and report.answered == 6 and report.open == 4
    assert combiner.ranker.names == CANDIDATE_FEATURES
    assert combiner.answerability.names == ANSWER_FEATURES
    reader_weight = combiner.ranker.weights[CANDIDATE_FEATURES.index("reader_logit")]
    assert reader_weight > 0
    hits = retriever.search("开票截止是几天", 5)
    scores = KeywordReader().rerank("开票截止是几天", [h.passage.full_text for h in hits])
    probabilities, confidence = combiner.rank("开票截止是几天", hits, scores, retriever.tokenizer)
    assert hits[int(np.argmax(probabilities))].passage.title == "激励开票截止日期"
    open_hits = retriever.search("代金券怎么转让", 5)
    _, doubt = combiner.rank(
        "代金券怎么转让", open_hits, [0.05] * len(open_hits), retriever.tokenizer
    )
    assert confidence > 0.5 > doubt


def test_fitting_needs_a_retriever_that_does_not_rerank(retriever: HybridRetriever) -> None:
    retriever.reranker = KeywordReader()
    try:
        with pytest.raises(ValueError, match="fused order"):
            fit_combiner(_questions(retriever), retriever, KeywordReader())
    finally:
        retriever.reranker = None


def test_combiner_round_trips_through_the_manifest_json() -> None:
    ranker = LinearModel(CANDIDATE_FEATURES, tuple(float(i) for i in range(10)), -1.0)
    answerability = LinearModel(ANSWER_FEATURES, (1.0, 0.5, 0.25), 0.0)
    combiner = Combiner(ranker, answerability)
    assert Combiner.from_json(combiner.to_json()) == combiner
    with pytest.raises(ValueError, match="expected"):
        LinearModel.from_json({"features": ["x"], "weights": [1.0], "bias": 0}, ("y",))
    with pytest.raises(ValueError, match="1 feature names for 2 weights"):
        LinearModel(("x",), (1.0, 2.0), 0.0)


def test_answer_features_read_the_best_ranked_candidate() -> None:
    rows = np.zeros((3, len(CANDIDATE_FEATURES)))
    rows[:, 0] = [2.0, -1.0, 0.5]  # reader logits
    features = answer_features(rows, np.array([0.1, 3.0, 0.2]))
    assert features.tolist() == [[2.0, -1.0, 3.0]]
    with pytest.raises(ValueError, match="no candidates"):
        answer_features(np.zeros((0, len(CANDIDATE_FEATURES))), np.zeros(0))


def test_module_needs_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bot.reading.combine, bot.reading.runtime, bot.reading.artifact;"
        "heavy = ('torch', 'sentence_transformers', 'sklearn');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
