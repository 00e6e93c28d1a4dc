"""The baselines our figures stand beside, answering through the same Reply record.

- bm25: jieba words and rank_bm25 over the raw lines of the corpus files (no boilerplate
  removal, no dedupe, no domain dictionary); the answer is the best line, cited whole.
- naive-langchain: what a newcomer assembles from LangChain's docs: RecursiveCharacterText
  Splitter chunks of the raw files, a Chroma store with the same embedding model, top-k
  similarity search; the answer is the first chunk, cited whole.

Neither rewrites follow-ups (the question is searched as asked) and neither refuses unless
nothing at all is retrieved.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.records import Turn
from eval.replay import Quote, Reply, Retrieved
from ingest.embed import Embedder
from ingest.load import load_corpus
from ingest.text import nfkc

K = 5  # hits returned, as many as the assistant retrieves for an answer
CHUNK_SIZE = 300
CHUNK_OVERLAP = 50
NOTHING = "(nothing retrieved)"


@dataclass(frozen=True)
class RawText:
    """One corpus file's decoded text (HTML as the loader extracts it), nothing removed."""

    path: str
    text: str


def raw_texts(corpus: Path) -> list[RawText]:
    """Return the decoded text of every loadable file under the corpus path."""
    return [RawText(p.path, p.text) for p in load_corpus([corpus]).pages]


def _id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def top_reply(question: str, hits: Sequence[Retrieved]) -> Reply:
    """Answer with the first hit's text cited whole, or refuse when nothing was retrieved."""
    if not hits:
        return Reply(NOTHING, True, (), (), question, reason="nothing retrieved")
    best = hits[0]
    quote = Quote(1, best.passage_id, best.text, best.text, best.title)
    return Reply(f"{best.text} [1]", False, (quote,), tuple(hits), question)


class BM25Baseline:
    """BM25 (rank_bm25's Okapi) over jieba words of every raw corpus line."""

    name = "bm25"

    def __init__(self, texts: Sequence[RawText]) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()  # its own instance: the product's words stay out
        self.lines: list[Retrieved] = []
        for raw in texts:
            for lineno, line in enumerate(raw.text.splitlines(), 1):
                if line.strip():
                    title = f"{Path(raw.path).name}:{lineno}"
                    self.lines.append(Retrieved(_id(raw.path, str(lineno)), title, line, 0.0))
        if not self.lines:
            raise ValueError("the corpus holds no text lines")
        self.bm25 = BM25Okapi([self.words(line.text) for line in self.lines])

    def words(self, text: str) -> list[str]:
        """Return jieba's words of text, lower-cased, without punctuation and spaces."""
        return [w for w in self._jieba.lcut(nfkc(text).lower()) if any(ch.isalnum() for ch in w)]

    def search(self, query: str, k: int = K) -> list[Retrieved]:
        """Return the k best-scoring lines that share a word with the query."""
        words = self.words(query)
        if not words:
            return []
        scores = self.bm25.get_scores(words)
        order = sorted(range(len(self.lines)), key=lambda i: -scores[i])
        shared = set(words)
        return [
            Retrieved(
                self.lines[i].passage_id, self.lines[i].title, self.lines[i].text, float(scores[i])
            )
            for i in order[:k]
            if shared & set(self.words(self.lines[i].text))
        ]

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Reply:
        """Answer with the best line (the history is ignored)."""
        return top_reply(question, self.search(question))

    def close(self) -> None:
        """Release nothing (kept for the same interface as the other systems)."""


def langchain_embeddings(embedder: Embedder) -> Any:
    """Wrap one of the product's embedders as a LangChain Embeddings object."""
    from langchain_core.embeddings import Embeddings

    class EmbedderEmbeddings(Embeddings):
        """LangChain's Embeddings over an Embedder (passage and query prompts kept apart)."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Embed passages."""
            return [[float(x) for x in row] for row in embedder.embed(texts, "passage")]

        def embed_query(self, text: str) -> list[float]:
            """Embed one query."""
            return [float(x) for x in embedder.embed([text], "query")[0]]

    return EmbedderEmbeddings()


class NaiveLangChainBaseline:
    """Recursive character chunks in a temporary Chroma store, answered by the top chunk."""

    name = "naive-langchain"

    def __init__(self, texts: Sequence[RawText], embedder: Embedder) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        docs = splitter.create_documents(
            [raw.text for raw in texts], metadatas=[{"source": raw.path} for raw in texts]
        )
        if not docs:
            raise ValueError("the corpus holds no text to chunk")
        self._dir = tempfile.TemporaryDirectory(
            prefix="naive-langchain-", ignore_cleanup_errors=True
        )
        self._client = chromadb.PersistentClient(
            path=self._dir.name, settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.store = Chroma(
            collection_name="naive-langchain",
            embedding_function=langchain_embeddings(embedder),
            client=self._client,
        )
        ids = [_id(d.metadata["source"], str(i), d.page_content) for i, d in enumerate(docs)]
        batch = self._client.get_max_batch_size()
        for start in range(0, len(docs), batch):
            self.store.add_documents(docs[start : start + batch], ids=ids[start : start + batch])
        self.chunks = len(docs)

    def search(self, query: str, k: int = K) -> list[Retrieved]:
        """Return the k chunks nearest to the query, scored by cosine similarity.

        Chroma's default space is squared L2, which on unit vectors is 2 - 2 cos.
        """
        found = self.store.similarity_search_with_score(query, k=k)
        return [
            Retrieved(
                str(doc.id),
                Path(str(doc.metadata.get("source", ""))).name,
                doc.page_content,
                1 - float(distance) / 2,
            )
            for doc, distance in found
        ]

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Reply:
        """Answer with the first chunk (the history is ignored)."""
        return top_reply(question, self.search(question))

    def close(self) -> None:
        """Drop the temporary Chroma store."""
        self._client.close()  # type: ignore[attr-defined]
        self._dir.cleanup()
