"""A LangChain retriever over the product's hybrid retrieval (for LangChain pipelines)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from bot.retrieve import Hit, HybridRetriever
from ingest.embed import Embedder
from ingest.settings import Settings, get_settings


def hit_document(hit: Hit) -> Document:
    """Return a hit as a LangChain Document with its id, title, breadcrumb and source."""
    source = hit.passage.sources[0] if hit.passage.sources else None
    return Document(
        id=hit.passage.id,
        page_content=hit.passage.full_text,
        metadata={
            "passage_id": hit.passage.id,
            "title": hit.passage.title,
            "breadcrumb": hit.passage.breadcrumb,
            "source": source.path if source else None,
            "url": source.url if source else None,
            "start": source.start if source else None,
            "end": source.end if source else None,
            "score": hit.score,
            "lexical_rank": hit.lexical_rank,
            "dense_rank": hit.dense_rank,
        },
    )


class HelpdeskRetriever(BaseRetriever):
    """Return the top-k passages of the help pages as Documents (hybrid lexical + dense)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings | None = None
    embedder: Embedder | None = None
    k: int = 4
    _retriever: HybridRetriever | None = PrivateAttr(default=None)

    def _open(self) -> HybridRetriever:
        if self._retriever is None:
            self._retriever = HybridRetriever.open(self.settings or get_settings(), self.embedder)
        return self._retriever

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        return [hit_document(hit) for hit in self._open().search(query, k)]
