"""Group unanswered questions by similarity: what the doc writers should add next.

Two passes: questions equal after match_key (NFKC, case, punctuation and spaces ignored)
form one group; then groups join a cluster when their character bigrams overlap a member's
with Jaccard >= threshold (``云服务器怎么扩容磁盘`` and ``云服务器如何扩容磁盘`` share 6 of 12).
Character bigrams need no word segmentation, which suits short Chinese questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.feedback import GapQuestion
from ingest.text import match_key

THRESHOLD = 0.5


@dataclass(frozen=True)
class Gap:
    """A cluster of similar unanswered questions, counted."""

    question: str  # the most asked wording
    count: int
    refused: int
    down: int
    questions: tuple[str, ...]  # distinct wordings, most asked first
    last_seen: str
    answer_ids: tuple[str, ...]


def bigrams(key: str) -> frozenset[str]:
    """Return the character bigrams of a match key (the key itself when shorter than two)."""
    if len(key) < 2:
        return frozenset([key])
    return frozenset(key[i : i + 2] for i in range(len(key) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Return |a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass
class _Group:
    items: list[GapQuestion]
    grams: frozenset[str]


def group_gaps(items: Sequence[GapQuestion], threshold: float = THRESHOLD) -> list[Gap]:
    """Cluster the questions; return the clusters, most frequent (then most recent) first."""
    exact: dict[str, _Group] = {}
    for item in items:
        key = match_key(item.question) or item.question.strip()
        group = exact.setdefault(key, _Group([], bigrams(key)))
        group.items.append(item)
    clusters: list[list[_Group]] = []
    for group in sorted(exact.values(), key=lambda g: -len(g.items)):
        home = next(
            (c for c in clusters if any(jaccard(group.grams, m.grams) >= threshold for m in c)),
            None,
        )
        if home is None:
            clusters.append([group])
        else:
            home.append(group)
    gaps = [_gap(c) for c in clusters]
    gaps.sort(key=lambda g: g.last_seen, reverse=True)
    gaps.sort(key=lambda g: g.count, reverse=True)  # stable: ties stay most recent first
    return gaps


def _gap(cluster: list[_Group]) -> Gap:
    items = [i for g in cluster for i in g.items]
    wordings: dict[str, int] = {}
    for item in items:
        text = item.question.strip()
        wordings[text] = wordings.get(text, 0) + 1
    ordered = sorted(wordings, key=lambda w: -wordings[w])
    return Gap(
        question=ordered[0],
        count=len(items),
        refused=sum(1 for i in items if i.kind == "refused"),
        down=sum(1 for i in items if i.kind == "down"),
        questions=tuple(ordered),
        last_seen=max(i.created for i in items),
        answer_ids=tuple(dict.fromkeys(i.answer_id for i in items)),
    )
