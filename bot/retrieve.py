"""Hybrid retrieval: lexical (bm25s or FTS5 bm25) and dense (Chroma) candidates, fused by RRF.

The lexical side finds exact terms, codes and Chinese words; the dense side (a multilingual
model) finds paraphrases and lets an English question reach Chinese passages. Reciprocal-rank
fusion (Cormack et al., 2009) needs no score calibration between the two: a passage scores
sum(1 / (rrf_k + rank)) over the retrievers that returned it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np

from bot.rerank import Reranker, get_reranker, rerank_text
from ingest.dense import DenseIndex
from ingest.embed import Embedder, get_embedder
from ingest.errors import ConfigError
from ingest.index import EMBED_MODEL_KEY, passage_of
from ingest.lexical import LexicalIndex, load_terms
from ingest.lexical_bm25 import DIR_NAME as BM25S_DIR
from ingest.lexical_bm25 import Bm25Index
from ingest.lexicon import Tokenizer, with_chinese_terms
from ingest.records import Passage
from ingest.settings import Settings
from ingest.store import Store

Mode = Literal["hybrid", "lexical", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
SENTENCES_PER_PASSAGE = 4  # dense candidates fetched per passage wanted
QUERY_VECTOR_CACHE = 64
QUERY_EMBED_CHARS = 300


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and its rank and score in each retriever."""

    passage: Passage
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    dense_score: float | None = None  # cosine similarity of query and passage
    rerank_score: float | None = None  # the reranker's score, when one re-ordered the hits
    reader_score: float | None = None  # the reading model's own probability, before combining

    @property
    def ranks(self) -> dict[str, int | None]:
        """Return the rank in each retriever (1-based; None when it did not return it)."""
        return {"lexical": self.lexical_rank, "dense": self.dense_rank}


@dataclass(frozen=True)
class Ranking:
    """Hits, best first, and how likely it is that the best one answers (reading model only)."""

    hits: list[Hit]
    confidence: float | None = None


class Retriever(Protocol):
    """Anything that ranks passages for a query."""

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return up to k hits, best first."""
        ...


def fuse(
    lexical: Sequence[tuple[str, float]],
    dense: Sequence[tuple[str, float]],
    rrf_k: int = 60,
) -> list[tuple[str, float]]:
    """Fuse two ranked (id, score) lists by reciprocal rank; ties keep the lexical order."""
    fused: dict[str, float] = {}
    for ranked in (lexical, dense):
        for rank, (pid, _) in enumerate(ranked, 1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


class HybridRetriever:
    """Search the store's lexical and dense indexes and fuse the results."""

    def __init__(
        self,
        store: Store,
        lexical: LexicalIndex,
        dense: DenseIndex | None,
        embedder: Embedder | None,
        *,
        mode: Mode = "hybrid",
        candidates: int = 50,
        rrf_k: int = 60,
        reranker: Reranker | None = None,
        rerank_candidates: int = 20,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        if mode != "lexical" and (dense is None or embedder is None):
            raise ConfigError(f"{mode} retrieval needs the dense index and an embedder")
        self.store = store
        self.lexical = lexical
        self.dense = dense
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.reranker = reranker
        self.rerank_candidates = rerank_candidates
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer of the lexical index (the same dictionary as at ingest)."""
        return self.lexical.tokenizer

    def query_vector(self, query: str) -> np.ndarray:
        """Return the query's embedding, remembering the last few (answering reuses it)."""
        assert self.embedder is not None
        vector = self._query_vectors.get(query)
        if vector is None:
            # A pasted page as a question would take seconds to embed; its start says enough.
            vector = self.embedder.embed([query[:QUERY_EMBED_CHARS]], "query")[0]
            self._query_vectors[query] = vector
            if len(self._query_vectors) > QUERY_VECTOR_CACHE:
                self._query_vectors.popitem(last=False)
        return vector

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, mode: Mode = "hybrid"
    ) -> HybridRetriever:
        """Open the indexes in the data directory (raises IndexMissingError before ingest)."""
        store = Store.open_existing(settings.db_path)
        # The bm25s read index if it is current with the FTS5 rows (checked once, here).
        bm25 = Bm25Index.open_current(store, settings.data_dir / BM25S_DIR)
        lexical = LexicalIndex(store.conn, Tokenizer(load_terms(store.conn)), bm25)
        dense: DenseIndex | None = None
        if mode != "lexical":
            embedder = embedder or get_embedder(settings)
            indexed_with = store.get_meta(EMBED_MODEL_KEY)
            if indexed_with and indexed_with != embedder.model_id:
                raise ConfigError(
                    f"the index was built with the embedding model {indexed_with!r} but the "
                    f"settings ask for {embedder.model_id!r}: run `helpdesk ingest` to re-embed"
                )
            dense = DenseIndex.open(settings, embedder.model_id, embedder.dim)
        return cls(
            store,
            lexical,
            dense,
            embedder if dense is not None else None,
            mode=mode,
            candidates=settings.retrieve_candidates,
            rrf_k=settings.rrf_k,
            reranker=get_reranker(settings),
            rerank_candidates=settings.rerank_candidates,
        )

    def lexical_search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return the lexical top-k (id, bm25 score); English words of the programme count too."""
        return self.lexical.search(with_chinese_terms(query), k)

    def dense_search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return the dense top-k passages (id, cosine similarity of their best sentence)."""
        assert self.dense is not None
        vector = self.query_vector(query)
        best: dict[str, float] = {}
        # Passages hold several sentence vectors each: fetch enough to fill k passages.
        for vector_id, similarity in self.dense.search(vector, k * SENTENCES_PER_PASSAGE):
            pid = passage_of(vector_id)
            if pid not in best:
                best[pid] = similarity
                if len(best) == k:
                    break
        return list(best.items())

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return up to k hits for the query, best first."""
        return self.rank(query, k).hits

    def rank(self, query: str, k: int = 10) -> Ranking:
        """Return up to k hits for the query, best first, with the reading model's confidence."""
        if not query.strip() or k <= 0:
            return Ranking([])
        hits = self.fused_search(query, max(k, self.rerank_candidates) if self.reranker else k)
        if not self.reranker or not hits:
            return Ranking(hits)
        ranked = self.rerank(query, hits)
        return Ranking(ranked.hits[:k], ranked.confidence)

    def rerank(self, query: str, hits: list[Hit]) -> Ranking:
        """Re-order the top rerank_candidates hits by the reranker (ties keep the fused order).

        The reading model's scores are combined with the hits' retrieval evidence by its
        ranking model, which also gives the confidence that the best hit answers; any other
        CrossEncoder's scores order the hits alone.
        """
        assert self.reranker is not None
        top, rest = hits[: self.rerank_candidates], hits[self.rerank_candidates :]
        reader = self.reranker.rerank(query, [rerank_text(h.passage) for h in top])
        if len(reader) != len(top):
            raise ValueError(f"the reranker returned {len(reader)} scores for {len(top)} passages")
        combiner = self.reranker.combiner
        confidence = None
        scores = list(reader)
        if combiner is not None:
            probabilities, confidence = combiner.rank(query, top, reader, self.tokenizer)
            scores = [float(p) for p in probabilities]
        order = sorted(range(len(top)), key=lambda i: -scores[i])
        ranked = [replace(top[i], rerank_score=scores[i], reader_score=reader[i]) for i in order]
        return Ranking(ranked + rest, confidence)

    def fused_search(self, query: str, k: int) -> list[Hit]:
        """Return up to k hits for the query in fused order."""
        n = max(k, self.candidates)
        lexical = self.lexical_search(query, n) if self.mode != "dense" else []
        dense = self.dense_search(query, n) if self.mode != "lexical" else []
        lex_rank = {pid: (rank, score) for rank, (pid, score) in enumerate(lexical, 1)}
        dense_rank = {pid: (rank, score) for rank, (pid, score) in enumerate(dense, 1)}
        ranked = fuse(lexical, dense, self.rrf_k)
        # Dense ids the store no longer holds (a run killed after its commit) drop out here.
        passages = {p.id: p for p in self.store.get_passages([pid for pid, _ in ranked[: k * 2]])}
        hits: list[Hit] = []
        for pid, score in ranked:
            if pid not in passages:
                continue
            lr, ls = lex_rank.get(pid, (None, None))
            dr, ds = dense_rank.get(pid, (None, None))
            hits.append(Hit(passages[pid], round(score, 6), lr, dr, ls, ds))
            if len(hits) == k:
                break
        return hits

    def close(self) -> None:
        """Release the store and the Chroma client."""
        if self.dense is not None:
            self.dense.close()
        self.store.close()
