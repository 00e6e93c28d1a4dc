"""The dev help center: pages, question splits and the reading model's training questions."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from eval.faqset import load_faq
from eval.helpcenter.pairs import (
    SPLIT,
    Written,
    article_passages,
    load_written,
    questions_for,
    seed_questions,
    training_pages,
)
from eval.helpcenter.render import PAGES, Article, load_articles, render_all
from ingest.records import Passage
from ingest.text import match_key

ROOT = Path(__file__).parents[2]
SPLITS = {
    name: load_faq(ROOT / "eval" / "faq" / f"helpcenter_{name}.jsonl")
    for name in ("tune", "heldout")
}


def test_pages_on_disk_are_the_rendered_articles() -> None:
    rendered = render_all(load_articles())
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in PAGES.glob("*.txt")}
    assert rendered == on_disk


def test_the_corpus_has_many_pages_and_confusable_neighbours() -> None:
    articles = load_articles()
    assert len({a.page for a in articles}) >= 8
    assert len(articles) >= 300
    clusters = Counter(w.cluster for w in load_written())
    same_topic_pairs = sum(len(list(combinations(range(n), 2))) for n in clusters.values())
    assert same_topic_pairs >= 40


def test_question_splits_are_large_disjoint_and_mixed() -> None:
    tune, heldout = SPLITS["tune"], SPLITS["heldout"]
    cases = tune + heldout
    assert len(cases) >= 150
    assert {c.id for c in tune}.isdisjoint(c.id for c in heldout)
    assert {c.question for c in tune}.isdisjoint(c.question for c in heldout)
    for split in (tune, heldout):
        kinds = Counter(
            "oos" if not c.answerable else "multi" if c.multi_turn else c.lang for c in split
        )
        assert kinds["oos"] >= 20 and kinds["en"] >= 10 and kinds["multi"] >= 10, kinds


def test_every_gold_phrase_stands_in_a_rendered_page() -> None:
    results = [
        match_key(line)
        for page in sorted(PAGES.glob("*.txt"))
        for line in page.read_text(encoding="utf-8").splitlines()
    ]
    for case in SPLITS["tune"] + SPLITS["heldout"]:
        for phrase in case.gold:
            assert any(match_key(phrase) in r for r in results), (case.id, phrase)


def test_no_evaluation_question_is_a_training_question() -> None:
    trained = {q for w in load_written() for q in (*w.questions, *w.unstated)}
    trained |= {
        json.loads(line)["question"]
        for line in (ROOT / "eval" / "helpcenter" / "seed_questions.jsonl").open(encoding="utf-8")
    }
    asked = {t for c in SPLITS["tune"] + SPLITS["heldout"] for t in c.turns}
    asked |= {c.question for c in load_faq(ROOT / "eval" / "faq" / "dev.jsonl")}
    assert not trained & asked


def test_training_pages_and_unseen_pages_split_the_help_center() -> None:
    split = json.loads(SPLIT.read_text(encoding="utf-8"))
    train, unseen = set(split["train_pages"]), set(split["unseen_pages"])
    assert train == training_pages() and not train & unseen
    assert train | unseen == {a.page for a in load_articles()}
    assert {w.article.page for w in load_written(pages=train)} == train


def _written(
    aid: str, cluster: str, sentences: tuple[str, ...], questions: tuple[str, ...]
) -> Written:
    article = Article(aid, "01", f"标题{aid}", "激励", sentences)
    return Written(article, cluster, questions, ("这个要交多少保证金?",))


def test_questions_take_the_better_ranked_window_and_leave_the_other_out() -> None:
    first = _written(
        "x", "c", ("激励开票支持增值税专用发票。", "普通发票不能用于激励开票。"), ("能开普票吗",)
    )
    neighbour = _written("y", "c", ("申付单进入待开票后开票截止日期为40天。",), ())
    windows = [
        Passage("w1", "标题x", "", "激励开票支持增值税专用发票。"),
        Passage("w2", "", "", "普通发票不能用于激励开票。"),
        Passage("n1", "标题y", "", "申付单进入待开票后开票截止日期为40天。"),
        Passage("tiny", "", "", "发票"),  # too short to be matched to an article
    ]
    mapped = article_passages([first, neighbour], windows)
    assert [p.id for p in mapped["x"]] == ["w1", "w2"] and [p.id for p in mapped["y"]] == ["n1"]
    questions = questions_for([first, neighbour], windows, lambda q: ["n1", "w2", "w1"])
    asked = next(q for q in questions if q.text == "能开普票吗")
    assert asked.answers == ("w2",) and asked.unsure == ("w1",) and asked.neighbours == ("n1",)
    unstated = [q for q in questions if q.kind == "unstated"]
    assert {q.neighbours for q in unstated} == {("w1", "w2", "n1"), ("n1", "w1", "w2")}


def test_seed_questions_point_at_the_passages_holding_their_gold(tmp_path: Path) -> None:
    passages = [
        Passage("p1", "为激励开票", "", "支持开具增值税专用发票和电子专票。"),
        Passage("p2", "", "", "MDF活动结束后90天内须提交核销。"),
    ]
    path = tmp_path / "seed.jsonl"
    path.write_text(
        '{"question": "激励能开电子专票吗", "lang": "zh", "gold": ["增值税专用发票和电子专票"]}\n'
        '{"question": "MDF审批要几天", "lang": "zh", "gold": []}\n',
        encoding="utf-8",
    )
    answered, open_question = seed_questions(passages, path)
    assert answered.answers == ("p1",) and answered.kind == "seed"
    assert open_question.answers == () and open_question.kind == "seed-unstated"
    path.write_text('{"question": "q", "lang": "zh", "gold": ["不在任何段落"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no passage holds"):
        seed_questions(passages, path)
