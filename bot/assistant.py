"""The assistant: rewrite a follow-up, retrieve, decide whether the pages answer, answer.

This is the one place the bot's parts meet; the CLI, the API and the evaluation harness all
ask through it, so they all get the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answer import ExtractiveAnswerer, is_english, refusal
from bot.records import Answer, Answerer, Turn
from bot.retrieve import Hit, HybridRetriever
from ingest.embed import Embedder
from ingest.embed_cache import EmbeddingCache
from ingest.settings import Settings

Rewriter = Callable[[str, Sequence[Turn]], str]


@dataclass(frozen=True)
class Assessment:
    """How well the retrieved passages match the query: what the refusal decides on."""

    coverage: float  # char-weighted share of the query's words found in the best clause
    similarity: float  # cosine of the query and the best-matching sentence
    unknown: float  # char-weighted share of the query's words the pages never use


def no_rewrite(question: str, history: Sequence[Turn]) -> str:
    """Return the question unchanged (used when no rewriter is configured)."""
    return question


class Assistant:
    """Answer questions, with follow-ups, from the indexed help pages."""

    def __init__(
        self,
        retriever: HybridRetriever,
        extractive: ExtractiveAnswerer,
        settings: Settings,
        answerer: Answerer | None = None,
        rewriter: Rewriter = no_rewrite,
    ) -> None:
        self.retriever = retriever
        self.extractive = extractive
        self.answerer: Answerer = answerer or extractive
        self.rewriter = rewriter
        self.settings = settings

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Assistant:
        """Open the indexes and build the configured answerer and rewriter."""
        from bot.rewrite import rewrite

        retriever = HybridRetriever.open(settings, embedder)
        assert retriever.embedder is not None
        cache = EmbeddingCache(retriever.store.conn)
        embed_model = retriever.embedder
        extractive = ExtractiveAnswerer(
            retriever.tokenizer,
            lambda texts: cache.embed(embed_model, texts),
            retriever.query_vector,
            retriever.store.common_units(),
        )
        if not settings.llm:
            return cls(retriever, extractive, settings, extractive, rewrite)
        from bot.llm import LLMAnswerer, LLMRewriter, make_chat_model

        chat_model = make_chat_model(
            settings.llm,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )
        answerer = LLMAnswerer(chat_model, extractive, max_passages=settings.llm_max_passages)
        rewriter = LLMRewriter(chat_model, rewrite).rewrite
        return cls(retriever, extractive, settings, answerer, rewriter)

    def assess(self, query: str, hits: Sequence[Hit], question: str | None = None) -> Assessment:
        """Measure how well the best clause of the top passages matches the query."""
        candidates = self.extractive.candidates(query, hits, question)
        tokens = set(self.retriever.tokenizer.tokenize(query))
        known = self.retriever.lexical.known(tokens)
        total = sum(map(len, tokens))
        unknown = sum(len(t) for t in tokens if t not in known) / total if total else 0.0
        if not candidates:
            return Assessment(0.0, 0.0, unknown)
        return Assessment(
            max(c.lexical for c in candidates), max(c.dense for c in candidates), unknown
        )

    def refuses(self, question: str, assessment: Assessment) -> str | None:
        """Return why the pages do not answer the question, or None when they do.

        Calibrated on the dev set (eval/faq/dev.jsonl): a Chinese question most of whose
        words the pages never use, with no sentence close to it, is about something else
        (云服务器扩容, 系统提示词). English words never stand in the Chinese pages, so English
        questions are refused on similarity alone.
        """
        s = self.settings
        if assessment.similarity < s.refuse_min_similarity:
            return f"no sentence is close to the question (similarity {assessment.similarity:.3f})"
        foreign = assessment.unknown >= s.refuse_unknown_share and not is_english(question)
        if foreign and assessment.similarity < s.refuse_sure_similarity:
            return f"{assessment.unknown:.0%} of the question's words never appear in the pages"
        return None

    def ask(self, question: str, history: Sequence[Turn] = (), k: int = 5) -> Answer:
        """Answer a question (with the conversation so far) from the help pages, or refuse."""
        turns = self.settings.history_turns
        query = self.rewriter(question, history[-turns:] if turns else [])
        hits = self.retriever.search(query, k)
        if not hits:
            return refusal(query, hits, "nothing retrieved", english=is_english(question))
        reason = self.refuses(question, self.assess(query, hits, question))
        if reason is not None:
            return refusal(query, hits, reason, english=is_english(question))
        return self.answerer.answer(question, query, hits)

    def close(self) -> None:
        """Release the indexes."""
        self.retriever.close()
