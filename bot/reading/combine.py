"""Combine the reading model's score with the retrieval evidence: ranking and answerability.

The cross-encoder alone reads four layers deep; the retrievers bring what it does not see (the
full e5 similarity of every sentence, exact-term bm25, the fused rank). Two logistic models,
fitted on questions whose pages the cross-encoder never trained on (build_reader.py), weigh
them: one orders the candidates (the probability that a passage answers), one decides whether
the best of them answers at all (the confidence the refusal is calibrated on). Every feature
is relative to the candidate list or bounded, so the weights carry over to other corpora.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.answer_type import expected_type, states

if TYPE_CHECKING:
    from bot.retrieve import Hit
    from ingest.lexicon import Tokenizer

CANDIDATE_FEATURES = (
    "reader_logit",  # the cross-encoder's logit for this passage
    "reader_gap",  # its probability minus the best candidate's
    "fused_rr",  # 1 / rank in the fused list
    "lexical_rr",  # 1 / bm25 rank (0 when bm25 did not return it)
    "dense_rr",  # 1 / dense rank (0 when the dense side did not return it)
    "dense_cos",  # cosine of the question and the passage's closest sentence
    "dense_gap",  # that cosine minus the best candidate's
    "lexical_rel",  # bm25 score over the best candidate's
    "coverage",  # char-weighted share of the question's words the passage contains
    "typed",  # the question asks for a duration/amount/date/... and the passage states one
)
# Only evidence that a passage answers: word overlap and similarity also rise for the near
# misses the model is fitted on, which taught it to trust an off-topic question more.
ANSWER_FEATURES = (
    "reader_logit_max",  # the best cross-encoder logit among the candidates
    "reader_logit_top",  # the cross-encoder logit of the best-ranked candidate
    "rank_logit_top",  # the ranking model's logit of the best-ranked candidate
)
_EPS = 1e-4


@dataclass(frozen=True)
class LinearModel:
    """A logistic model over named features."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        if len(self.names) != len(self.weights):
            raise ValueError(f"{len(self.names)} feature names for {len(self.weights)} weights")

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Return one logit per row of features (columns in self.names' order)."""
        return features @ np.asarray(self.weights, dtype=np.float64) + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Return one probability per row."""
        return 1.0 / (1.0 + np.exp(-self.logits(features)))

    def to_json(self) -> dict[str, Any]:
        """Return the model as the manifest stores it."""
        return {"features": list(self.names), "weights": list(self.weights), "bias": self.bias}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], expected: Sequence[str]) -> LinearModel:
        """Read a model from the manifest; its features must be the expected ones, in order."""
        names = tuple(str(n) for n in raw["features"])
        if names != tuple(expected):
            raise ValueError(f"features {list(names)}, expected {list(expected)}")
        return cls(names, tuple(float(w) for w in raw["weights"]), float(raw["bias"]))


def fit(features: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> LinearModel:
    """Fit a logistic model (L2, C=1) with scikit-learn; training only."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=5000).fit(features, labels)
    return LinearModel(
        tuple(names), tuple(round(float(w), 6) for w in model.coef_[0]), float(model.intercept_[0])
    )


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def candidate_features(
    question: str, hits: Sequence[Hit], reader: Sequence[float], tokenizer: Tokenizer
) -> np.ndarray:
    """Return the CANDIDATE_FEATURES of each hit (in fused order) given its reader probability."""
    words = set(tokenizer.tokenize(question))
    total = sum(map(len, words)) or 1
    kind = expected_type(question)
    best_reader = max(reader, default=0.0)
    best_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
    best_lexical = max((h.lexical_score or 0.0 for h in hits), default=0.0) or 1.0
    rows = []
    for rank, (hit, p) in enumerate(zip(hits, reader, strict=True), 1):
        own = set(tokenizer.tokenize(hit.passage.full_text))
        dense = hit.dense_score or 0.0
        rows.append(
            [
                _logit(p),
                p - best_reader,
                1.0 / rank,
                1.0 / hit.lexical_rank if hit.lexical_rank else 0.0,
                1.0 / hit.dense_rank if hit.dense_rank else 0.0,
                dense,
                dense - best_dense,
                (hit.lexical_score or 0.0) / best_lexical,
                sum(len(w) for w in words if w in own) / total,
                float(kind is not None and states(hit.passage.text, kind)),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(CANDIDATE_FEATURES))


def answer_features(candidates: np.ndarray, rank_logits: np.ndarray) -> np.ndarray:
    """Return the ANSWER_FEATURES of one candidate list (one row)."""
    if not len(candidates):
        raise ValueError("no candidates to decide on")
    col = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}
    top = int(np.argmax(rank_logits))
    return np.asarray(
        [
            [
                candidates[:, col["reader_logit"]].max(),
                candidates[top, col["reader_logit"]],
                rank_logits[top],
            ]
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class Combiner:
    """The two logistic models of the reading model, applied to a reranked candidate list."""

    ranker: LinearModel
    answerability: LinearModel

    def rank(
        self, question: str, hits: Sequence[Hit], reader: Sequence[float], tokenizer: Tokenizer
    ) -> tuple[np.ndarray, float]:
        """Return each hit's probability of answering and the list's answerability."""
        candidates = candidate_features(question, hits, reader, tokenizer)
        logits = self.ranker.logits(candidates)
        confidence = self.answerability.probabilities(answer_features(candidates, logits))[0]
        return 1.0 / (1.0 + np.exp(-logits)), float(confidence)

    def to_json(self) -> dict[str, Any]:
        """Return both models as the manifest stores them."""
        return {"ranker": self.ranker.to_json(), "answerability": self.answerability.to_json()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Combiner:
        """Read both models from the manifest."""
        return cls(
            LinearModel.from_json(raw["ranker"], CANDIDATE_FEATURES),
            LinearModel.from_json(raw["answerability"], ANSWER_FEATURES),
        )
