"""Rerankers: re-score the top fused hits with a cross-encoder reading query and passage together.

A cross-encoder is slower than the two retrievers (one forward pass per passage and query) but
judges relevance better, so it only re-orders the few best fused candidates. sentence-transformers
(and torch) load at first use, never when this module is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ingest.embed import BUNDLED, load_st_model
from ingest.errors import ConfigError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.reading.combine import Combiner
    from ingest.records import Passage
    from ingest.settings import Settings


class Reranker(Protocol):
    """Score passages for a query (and, for the reading model, combine with retrieval's)."""

    # How the scores combine with the retrieval evidence; None: order by the scores alone.
    combiner: Combiner | None

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        """Return one relevance score per passage, higher = better."""
        ...


def rerank_text(passage: Passage) -> str:
    """Return the text a reranker reads for a passage: its heading, then its text."""
    return passage.full_text


def load_cross_encoder(name: str, device: str) -> Any:
    """Load a CrossEncoder from a local path or hub id, or raise ConfigError."""
    hint = " Unset HELPDESK_RERANK_MODEL to search without reranking."
    return load_st_model("CrossEncoder", name, device, hint)


class CrossEncoderReranker:
    """Score (query, passage) pairs with a sentence-transformers CrossEncoder."""

    combiner: Combiner | None = None  # a downloaded CrossEncoder's scores order the hits alone

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


OFF = frozenset({"", "none", "off"})


def get_reranker(settings: Settings) -> Reranker | None:
    """Build the reranker the settings ask for, or None when reranking is off.

    "bundled" is the reading model shipped in bot/reading/weights, and a folder holding a
    reader.json is another build of it (`make reader`); when its files are missing or
    damaged, ranking goes on without it (one warning names the file) unless rerank_required
    is set. Any other value is a sentence-transformers CrossEncoder id or path.
    """
    name = (settings.rerank_model or "").strip()
    if name.lower() in OFF:
        return None
    from bot.reading.artifact import MANIFEST, WEIGHTS, load_bundled

    folder = WEIGHTS if name == BUNDLED else Path(name)
    if name != BUNDLED and not (folder / MANIFEST).is_file():
        return CrossEncoderReranker(
            name, device=settings.embed_device, batch_size=settings.embed_batch_size
        )
    try:
        return load_bundled(folder, threads=settings.rerank_threads)
    except ConfigError as exc:
        if settings.rerank_required:
            raise
        log.warning("%s; ranking without the reading model", exc)
        return None
