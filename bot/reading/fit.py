"""Fit the reading model's combiner (bot/reading/combine.py) on labelled questions.

The questions must come from pages the cross-encoder never trained on: on its own training
questions its scores are overconfident, and the combiner would learn to trust it more than it
deserves on a new help center. Each answered question gives one labelled row per fused
candidate (the passages it may or may not be answered by are left out); every question whose
answer was retrieved, and every question the pages leave open, gives one answerability row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.reading.combine import (
    ANSWER_FEATURES,
    CANDIDATE_FEATURES,
    Combiner,
    answer_features,
    candidate_features,
    fit,
)
from bot.reading.mine import Question
from bot.rerank import Reranker, rerank_text
from bot.retrieve import HybridRetriever


@dataclass(frozen=True)
class FitReport:
    """What the combiner was fitted on."""

    questions: int
    candidate_rows: int
    answered: int  # answerability rows of answered questions
    open: int  # answerability rows of questions the pages leave open


def fit_combiner(
    questions: Sequence[Question],
    retriever: HybridRetriever,
    reader: Reranker,
    candidates: int = 20,
) -> tuple[Combiner, FitReport]:
    """Fit the ranking and answerability models; the retriever must not rerank itself."""
    if retriever.reranker is not None:
        raise ValueError("fit the combiner over the fused order: open the retriever without one")
    lists = []
    for q in questions:
        hits = retriever.search(q.text, candidates)
        if not hits:
            continue
        scores = reader.rerank(q.text, [rerank_text(h.passage) for h in hits])
        features = candidate_features(q.text, hits, scores, retriever.tokenizer)
        marks = [
            1 if h.passage.id in q.answers else -1 if h.passage.id in q.unsure else 0 for h in hits
        ]
        lists.append((q, features, np.asarray(marks)))
    rows = np.vstack([f[y >= 0] for _, f, y in lists])
    labels = np.concatenate([y[y >= 0] for _, _, y in lists])
    ranker = fit(rows, labels, CANDIDATE_FEATURES)
    answer_rows: list[np.ndarray] = []
    answer_labels: list[int] = []
    for q, features, y in lists:
        if q.answers and 1 not in y.tolist():
            continue  # its answer was not retrieved: the list says nothing about answerability
        answer_rows.append(answer_features(features, ranker.logits(features)))
        answer_labels.append(1 if q.answers else 0)
    answered = sum(answer_labels)
    answerability = fit(np.vstack(answer_rows), np.asarray(answer_labels), ANSWER_FEATURES)
    report = FitReport(len(lists), len(labels), answered, len(answer_labels) - answered)
    return Combiner(ranker, answerability), report
