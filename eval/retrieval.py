"""Replay a FAQ set's answerable questions against the retrievers and score the rankings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.retrieve import Hit
from eval.faqset import FaqCase
from eval.metrics import first_relevant_rank, hit_at_k, mrr_at_k

Search = Callable[[str, int], list[Hit]]
DEPTH = 10


@dataclass(frozen=True)
class RetrievalScores:
    """hit@1, hit@5 and MRR@10 over a group of cases."""

    cases: int
    hit1: float | None
    hit5: float | None
    mrr10: float | None


def hit_text(hit: Hit) -> str:
    """Return what a gold phrase is looked for in: the passage's title and text."""
    return f"{hit.passage.title} {hit.passage.text}"


def query_of(case: FaqCase) -> str:
    """Return the query a retrieval-only replay sends: the question (follow-ups as asked)."""
    return case.question


def ranks(cases: Sequence[FaqCase], search: Search) -> list[int | None]:
    """Return the first relevant rank of each case (None when no relevant hit in the top 10)."""
    return [
        first_relevant_rank([hit_text(h) for h in search(query_of(c), DEPTH)], c.gold)
        for c in cases
    ]


def score(rank_list: Sequence[int | None]) -> RetrievalScores:
    """Score a list of first relevant ranks."""
    return RetrievalScores(
        len(rank_list), hit_at_k(rank_list, 1), hit_at_k(rank_list, 5), mrr_at_k(rank_list, 10)
    )


def groups(cases: Sequence[FaqCase]) -> dict[str, list[int]]:
    """Return the indexes of the answerable cases in each reporting group."""
    out: dict[str, list[int]] = {"all": [], "zh": [], "en": [], "single": [], "multi": []}
    for i, case in enumerate(cases):
        if not case.answerable:
            continue
        out["all"].append(i)
        out[case.lang].append(i)
        out["multi" if case.multi_turn else "single"].append(i)
    return out
