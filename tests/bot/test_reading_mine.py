"""Training pairs for the reading model: answers, hard negatives, and what is left out."""

from __future__ import annotations

from bot.reading.mine import Question, mine_pairs, reader_text, title_questions
from bot.retrieve import Hit
from ingest.records import Passage


def _passage(pid: str, title: str, text: str) -> Passage:
    return Passage(pid, title, "", text)


PASSAGES = [
    _passage("a", "激励开票的发票类型?", "支持开具增值税专用发票和电子专票。"),
    _passage("b", "", "不能开具增值税普通发票。"),  # the same article's second window
    _passage("c", "激励开票截止日期", "伙伴须在40天内完成开票。"),
    _passage("d", "MDF核销有效期", "90天内须提交核销。"),
    _passage("e", "代金券下发", "单张代金券面额最高3万元。"),
    _passage("f", "提现手续费", "华为云不收取提现手续费。"),
]
BY_ID = {p.id: p for p in PASSAGES}


class RankedRetriever:
    """Returns the passages in a fixed order, whatever the query (a Retriever)."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return [Hit(BY_ID[pid], 1.0 / (n + 1)) for n, pid in enumerate(self.order[:k])]


def test_answer_is_positive_and_neighbours_and_top_hits_are_negative() -> None:
    question = Question("激励能开什么票", ("a",), neighbours=("c",), unsure=("b",))
    retriever = RankedRetriever(["b", "a", "d", "e", "c", "f"])
    pairs = mine_pairs([question], PASSAGES, retriever, retrieved_negatives=2, seed=1)
    labels = {(p.passage, p.label) for p in pairs}
    assert (reader_text(BY_ID["a"]), 1.0) in labels
    negatives = [p.passage for p in pairs if p.label == 0.0]
    # the neighbour, the two best-ranked non-answers (b is unsure: skipped), one random other
    assert negatives[:3] == [reader_text(BY_ID[x]) for x in ("c", "d", "e")]
    assert len(negatives) == 4 and negatives[3] == reader_text(BY_ID["f"])
    assert all(reader_text(BY_ID["b"]) != p.passage for p in pairs)


def test_unanswered_question_has_only_negatives() -> None:
    question = Question("激励发票的税率是多少", (), neighbours=("a", "b", "c"), kind="unstated")
    pairs = mine_pairs(
        [question], PASSAGES, RankedRetriever(["a", "d"]), neighbour_negatives=2, seed=3
    )
    assert pairs and all(p.label == 0.0 for p in pairs)
    assert {p.kind for p in pairs} == {"unstated-negative"}
    # two of the three neighbours, then d from the retriever, then one random passage
    assert len(pairs) == 4


def test_faq_headings_become_questions_answered_by_the_text_alone() -> None:
    questions = title_questions(PASSAGES)
    assert [q.text for q in questions] == ["激励开票的发票类型?"]
    pairs = mine_pairs(questions, PASSAGES, RankedRetriever([]), retrieved_negatives=0)
    positive = next(p for p in pairs if p.label == 1.0)
    assert positive.passage == "支持开具增值税专用发票和电子专票。"
    assert positive.kind == "title"
