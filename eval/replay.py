"""Replay a FAQ set through the assistant and score answers, citations, refusals, latency."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.records import Answer, Turn
from eval.faqset import FaqCase
from eval.metrics import (
    citation_ok,
    first_relevant_rank,
    percentile,
    refusal_scores,
    share,
    states_all_facts,
)

Ask = Callable[[str, Sequence[Turn]], Answer]


@dataclass(frozen=True)
class CaseResult:
    """One replayed case: the answer and how it scores."""

    case: FaqCase
    answer: Answer
    seconds: float
    rank: int | None  # first relevant hit (answerable cases)
    facts_ok: bool
    citations_ok: tuple[bool, ...]


def replay(cases: Sequence[FaqCase], ask: Ask) -> list[CaseResult]:
    """Ask every case (follow-ups with their earlier user turns) and score each answer."""
    results = []
    for case in cases:
        history: list[Turn] = []
        for turn in case.history:
            previous = ask(turn, list(history))
            history += [Turn("user", turn), Turn("assistant", previous.text)]
        start = time.perf_counter()
        answer = ask(case.question, history)
        seconds = time.perf_counter() - start
        texts = [f"{h.passage.title} {h.passage.text}" for h in answer.hits]
        results.append(
            CaseResult(
                case,
                answer,
                seconds,
                first_relevant_rank(texts, case.gold) if case.answerable else None,
                case.answerable
                and not answer.refused
                and states_all_facts(answer.text, case.facts),
                tuple(citation_ok(c.quote, c.passage.text, case.gold) for c in answer.citations),
            )
        )
    return results


def summary(results: Sequence[CaseResult]) -> dict[str, float | int | None]:
    """Return the headline metrics of a replay."""
    answerable = [r for r in results if r.case.answerable]
    refusals = refusal_scores(
        [r.answer.refused for r in results], [r.case.answerable for r in results]
    )
    zh_lengths = [
        len(r.answer.text) for r in answerable if r.case.lang == "zh" and not r.answer.refused
    ]
    quotes_ok = [c.quote in c.passage.text for r in results for c in r.answer.citations]
    millis = [r.seconds * 1000 for r in results]
    return {
        "cases": len(results),
        "fact_coverage": share([r.facts_ok for r in answerable]),
        "citation_quote_in_passage": share(quotes_ok),
        "citation_precision": share([ok for r in results for ok in r.citations_ok]),
        "refusal_precision": refusals.precision,
        "refusal_recall": refusals.recall,
        "false_refusal_rate": refusals.false_refusal_rate,
        "follow_up_hit5": share(
            [r.rank is not None and r.rank <= 5 for r in answerable if r.case.multi_turn]
        ),
        "hit5": share([r.rank is not None and r.rank <= 5 for r in answerable]),
        "median_zh_answer_chars": statistics.median(zh_lengths) if zh_lengths else None,
        "latency_p50_ms": percentile(millis, 50),
        "latency_p95_ms": percentile(millis, 95),
    }
