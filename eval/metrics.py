"""Score replayed answers: pure functions over texts, ranks and flags, no I/O.

Texts are compared in the FAQ format's normalized form (ingest.text.match_key), so
punctuation, spaces, case and full/half-width forms never decide a match. Every
aggregate returns None when there is nothing to measure (no cases, no citations ...),
so that an empty split of a report reads "n/a" rather than a misleading 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.text import match_key


def _keys(phrases: Sequence[str]) -> list[str]:
    # a phrase that normalizes to nothing would match every text: drop it
    return [key for key in map(match_key, phrases) if key]


def contains(text: str, phrase: str) -> bool:
    """Return True when phrase stands in text once both are normalized."""
    key = match_key(phrase)
    return bool(key) and key in match_key(text)


def is_relevant(passage_text: str, gold: Sequence[str]) -> bool:
    """Return True when the passage contains any of the gold phrases."""
    text = match_key(passage_text)
    return any(key in text for key in _keys(gold))


def first_relevant_rank(passage_texts: Sequence[str], gold: Sequence[str]) -> int | None:
    """Return the 1-based rank of the first relevant passage, or None when none is."""
    for rank, text in enumerate(passage_texts, 1):
        if is_relevant(text, gold):
            return rank
    return None


def share(flags: Sequence[bool]) -> float | None:
    """Return the fraction of true flags, or None for no flags."""
    return sum(flags) / len(flags) if flags else None


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def hit_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Return the share of cases whose first relevant rank is at most k."""
    _check_k(k)
    return share([rank is not None and rank <= k for rank in ranks])


def mrr_at_k(ranks: Sequence[int | None], k: int = 10) -> float | None:
    """Return the mean reciprocal rank, counting ranks beyond k (or None) as 0."""
    _check_k(k)
    if not ranks:
        return None
    return sum(1 / rank for rank in ranks if rank is not None and rank <= k) / len(ranks)


def facts_stated(answer: str, facts: Sequence[Sequence[str]]) -> list[bool]:
    """Return, per fact, whether the answer states one of its alternatives."""
    text = match_key(answer)
    return [any(key in text for key in _keys(alternatives)) for alternatives in facts]


def states_all_facts(answer: str, facts: Sequence[Sequence[str]]) -> bool:
    """Return True when the answer states every fact (true for no facts)."""
    return all(facts_stated(answer, facts))


def fact_coverage(answers: Sequence[str], facts: Sequence[Sequence[Sequence[str]]]) -> float | None:
    """Return the share of answers that state every fact of their case."""
    if len(answers) != len(facts):
        raise ValueError(f"{len(answers)} answers but {len(facts)} fact lists")
    return share([states_all_facts(a, f) for a, f in zip(answers, facts, strict=True)])


def citation_ok(quote: str, passage_text: str, gold: Sequence[str]) -> bool:
    """Return True when the quote stands in the cited passage and that passage is relevant."""
    return contains(passage_text, quote) and is_relevant(passage_text, gold)


def citation_precision(citations: Sequence[tuple[str, str]], gold: Sequence[str]) -> float | None:
    """Return the share of (quote, passage text) citations that are ok; None without any."""
    return share([citation_ok(quote, text, gold) for quote, text in citations])


@dataclass(frozen=True)
class RefusalScores:
    """How well refusals track the unanswerable cases (None where undefined)."""

    precision: float | None  # refusals that were on unanswerable cases
    recall: float | None  # unanswerable cases that were refused
    false_refusal_rate: float | None  # answerable cases that were refused


def refusal_scores(refused: Sequence[bool], answerable: Sequence[bool]) -> RefusalScores:
    """Score refusals against the cases' answerable flags, taking a refusal as a positive."""
    if len(refused) != len(answerable):
        raise ValueError(f"{len(refused)} refusal flags but {len(answerable)} answerable flags")
    pairs = list(zip(refused, answerable, strict=True))
    return RefusalScores(
        precision=share([not ok for ref, ok in pairs if ref]),
        recall=share([ref for ref, ok in pairs if not ok]),
        false_refusal_rate=share([ref for ref, ok in pairs if ok]),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) by linear interpolation; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
