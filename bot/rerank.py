"""Rerankers: re-score the top fused hits with a cross-encoder reading query and passage together.

A cross-encoder is slower than the two retrievers (one forward pass per passage and query) but
judges relevance better, so it only re-orders the few best fused candidates. sentence-transformers
(and torch) load at first use, never when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ingest.embed import load_st_model

if TYPE_CHECKING:
    from ingest.records import Passage
    from ingest.settings import Settings


class Reranker(Protocol):
    """Score passages for a query."""

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        """Return one relevance score per passage, higher = better."""
        ...


def rerank_text(passage: Passage) -> str:
    """Return the text a reranker reads for a passage: its title, then its text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


def load_cross_encoder(name: str, device: str) -> Any:
    """Load a CrossEncoder from a local path or hub id, or raise ConfigError."""
    hint = " Unset HELPDESK_RERANK_MODEL to search without reranking."
    return load_st_model("CrossEncoder", name, device, hint)


class CrossEncoderReranker:
    """Score (query, passage) pairs with a sentence-transformers CrossEncoder."""

    def __init__(self, name: str, device: str = "cpu", batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = name
        self.batch_size = batch_size
        self.model = load_cross_encoder(name, device)

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        """Return the cross-encoder's score of each passage for the query."""
        if isinstance(passages, str):
            raise TypeError("rerank() takes a sequence of passages, not one string")
        if not passages:
            return []
        scores = self.model.predict(
            [(query, passage) for passage in passages],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(score) for score in scores]


def get_reranker(settings: Settings) -> Reranker | None:
    """Build the reranker the settings ask for, or None when rerank_model is unset."""
    name = (settings.rerank_model or "").strip()
    if not name:
        return None
    return CrossEncoderReranker(
        name, device=settings.embed_device, batch_size=settings.embed_batch_size
    )
