"""Training questions for the reading model from the dev help center's training pages only.

Each article of a training page (split.json) brings the questions its writer asked of it as a
partner would (train_questions, train_questions_en) and the questions about its subject that
no page answers (unstated). The passages an article became after ingest are found by text:
a search result is a window of one article, so its normalized text stands in the article's.
When an article became two windows, the one that shares more of the question's words is
taken as the answer and the other is left out of that question's pairs (it may or may not
hold the answer). The cluster's other articles are the question's hard negatives.

Questions of the unseen pages and both evaluation splits (eval/faq/helpcenter_*.jsonl) are
never read here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.reading.mine import Question
from eval.helpcenter.render import ARTICLES, Article
from ingest.records import Passage
from ingest.text import match_key

HERE = Path(__file__).resolve().parent
SPLIT = HERE / "split.json"


@dataclass(frozen=True)
class Written:
    """An article's fields beyond its text: its cluster and the questions written for it."""

    article: Article
    cluster: str
    questions: tuple[str, ...]
    unstated: tuple[str, ...]


def training_pages(split: Path = SPLIT) -> set[str]:
    """Return the page numbers whose articles may be trained on."""
    return set(json.loads(split.read_text(encoding="utf-8"))["train_pages"])


def unseen_pages(split: Path = SPLIT) -> set[str]:
    """Return the page numbers the cross-encoder never trains on (its combiner is fitted there)."""
    return set(json.loads(split.read_text(encoding="utf-8"))["unseen_pages"])


def load_written(folder: Path = ARTICLES, pages: set[str] | None = None) -> list[Written]:
    """Read the articles of the given pages with their clusters and written questions."""
    from eval.helpcenter.render import load_articles

    articles = {a.id: a for a in load_articles(folder)}
    found = []
    for path in sorted(folder.glob("*.jsonl")):
        if pages is not None and path.stem not in pages:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            questions = [*raw.get("train_questions", []), *raw.get("train_questions_en", [])]
            found.append(
                Written(
                    articles[raw["id"]],
                    raw["cluster"],
                    tuple(q.strip() for q in questions if q.strip()),
                    tuple(_strip_note(q) for q in raw.get("unstated", []) if q.strip()),
                )
            )
    return found


def _strip_note(question: str) -> str:
    """Drop a writer's note in parentheses after the question mark ('...? (no article ...)')."""
    for mark in ("?", "\uff1f"):
        if mark in question:
            return question[: question.index(mark) + 1].strip()
    return question.strip()


def article_passages(
    written: Sequence[Written], passages: Sequence[Passage]
) -> dict[str, list[Passage]]:
    """Map each article id to the passages whose text stands in the article's text."""
    keys = {
        w.article.id: match_key(" ".join((w.article.title, *w.article.sentences))) for w in written
    }
    found: dict[str, list[Passage]] = defaultdict(list)
    for passage in passages:
        key = match_key(passage.text)
        if len(key) < 12:
            continue
        for article_id, text in keys.items():
            if key in text:
                found[article_id].append(passage)
    return found


def questions_for(
    written: Sequence[Written], passages: Sequence[Passage], ranked: Callable[[str], list[str]]
) -> list[Question]:
    """Build the reading model's training questions from the written ones.

    ranked(question) gives passage ids best first (the product's own retriever): of an
    article's windows, the better-ranked one is taken as the answer and the others are left
    out of the question's pairs, since they may or may not hold the answer.
    """
    mapped = article_passages(written, passages)
    cluster_of: dict[str, list[str]] = defaultdict(list)
    for w in written:
        cluster_of[w.cluster].append(w.article.id)
    out: list[Question] = []
    for w in written:
        own = mapped.get(w.article.id, [])
        if not own:
            continue
        neighbours = tuple(
            p.id
            for other in cluster_of[w.cluster]
            if other != w.article.id
            for p in mapped.get(other, [])
        )
        for q in w.questions:
            best = own[0] if len(own) == 1 else _best_ranked(own, ranked(q))
            unsure = tuple(p.id for p in own if p.id != best.id)
            out.append(Question(q, (best.id,), neighbours, "written", unsure))
        for q in w.unstated:
            out.append(Question(q, (), tuple(p.id for p in own) + neighbours, kind="unstated"))
    return out


def _best_ranked(own: Sequence[Passage], order: list[str]) -> Passage:
    """Return the passage ranked best in order (one not ranked at all comes last)."""
    place = {pid: i for i, pid in enumerate(order)}
    return min(own, key=lambda p: place.get(p.id, len(order)))


SEED_QUESTIONS = HERE / "seed_questions.jsonl"


def seed_questions(passages: Sequence[Passage], path: Path = SEED_QUESTIONS) -> list[Question]:
    """Read the training questions written for the seed page ({"question", "gold": [...]}).

    Every passage that contains a gold phrase answers; a question with no gold phrase is one
    the page leaves open, so its nearest passages are its negatives. The seed's own FAQ set
    (eval/faq/dev.jsonl) is never read here.
    """
    keys = [(p.id, match_key(p.full_text)) for p in passages]
    out: list[Question] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        gold = [match_key(g) for g in raw["gold"]]
        answers = tuple(pid for pid, text in keys if any(g in text for g in gold))
        if gold and not answers:
            raise ValueError(f"{path}:{n}: no passage holds the gold phrase {raw['gold']}")
        out.append(Question(raw["question"], answers, kind="seed" if gold else "seed-unstated"))
    return out
