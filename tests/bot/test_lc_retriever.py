"""The LangChain adapter passes langchain-tests' standard retriever suite, on the real index."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from bot.lc_retriever import HelpdeskRetriever
from ingest.settings import Settings


class TestHelpdeskRetriever(RetrieversIntegrationTests):
    _settings: Settings
    _embedder: Any

    @pytest.fixture(autouse=True)
    def _seed(self, seed_index: Settings, bundled_embedder: Any) -> None:
        type(self)._settings = seed_index
        type(self)._embedder = bundled_embedder

    @property
    def retriever_constructor(self) -> type[HelpdeskRetriever]:
        return HelpdeskRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"settings": self._settings, "embedder": self._embedder, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "激励开票可以开哪些发票?"


def test_documents_carry_the_passage_metadata(seed_index: Settings, bundled_embedder: Any) -> None:
    retriever = HelpdeskRetriever(settings=seed_index, embedder=bundled_embedder, k=1)
    (doc,) = retriever.invoke("MDF核销有效期多长")
    assert doc.metadata["title"] == "MDF核销有效期多长?"
    assert doc.id == doc.metadata["passage_id"]
    assert doc.metadata["source"].endswith("000_703c6e61c96b5cdc.txt")
    assert doc.page_content.startswith("MDF核销有效期多长?\n自活动结束之日起")
