"""The assistant: rewrite a follow-up, retrieve, decide whether the pages answer, answer.

This is the one place the bot's parts meet; the CLI, the API and the evaluation harness all
ask through it, so they all get the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.answer import ExtractiveAnswerer, is_english, refusal
from bot.answer_type import AnswerType, expected_type, identifiers
from bot.records import Answer, Answerer, Turn
from bot.retrieve import Hit, HybridRetriever
from ingest.embed import Embedder
from ingest.embed_cache import EmbeddingCache
from ingest.settings import Settings

Rewriter = Callable[[str, Sequence[Turn]], str]
# How a refusal by the reading model's confidence starts its reason (eval's calibration reads it).
READING_REFUSAL = "the reading model finds no passage that answers the question"


@dataclass(frozen=True)
class Assessment:
    """How well the retrieved passages match the query: what the refusal decides on."""

    coverage: float  # char-weighted share of the query's words found in the best clause
    similarity: float  # cosine of the query and the best-matching sentence
    unknown: float  # char-weighted share of the query's words the pages never use
    expects: AnswerType | None = None  # the kind of answer the question asks for
    typed: bool = True  # a sentence close to the best states an answer of that kind
    unknown_ids: tuple[str, ...] = ()  # exact identifiers (CBC.0200) the pages never contain
    # The reading model's probability that the best passage answers (None without the model).
    confidence: float | None = None


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
            reader=retriever.reranker.rerank if retriever.reranker else None,
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

    def assess(
        self,
        query: str,
        hits: Sequence[Hit],
        question: str | None = None,
        confidence: float | None = None,
    ) -> Assessment:
        """Measure how well the best clauses of the top passages match the query.

        confidence is the reading model's probability that the best hit answers, when the
        retriever has the reading model.
        """
        candidates = self.extractive.candidates(query, hits, question)
        tokens = set(self.retriever.tokenizer.tokenize(query))
        asked = question or query
        ids = identifiers(self.retriever.tokenizer.tokenize(asked))
        # One lookup for both: the question as asked may name a code the rewrite dropped.
        known = self.retriever.lexical.known(tokens | set(ids))
        total = sum(map(len, tokens))
        unknown = sum(len(t) for t in tokens if t not in known) / total if total else 0.0
        unknown_ids = tuple(t for t in ids if t not in known)
        if not candidates:
            return Assessment(0.0, 0.0, unknown, unknown_ids=unknown_ids, confidence=confidence)
        expects = expected_type(asked)
        typed = expects is None or any(c.typed for c in self.extractive.contenders(candidates))
        return Assessment(
            max(c.lexical for c in candidates),
            max(c.dense for c in candidates),
            unknown,
            expects,
            typed,
            unknown_ids,
            confidence,
        )

    def refuses(self, question: str, assessment: Assessment) -> str | None:
        """Return why the pages do not answer the question, or None when they do.

        Calibrated on the dev set (eval/faq/dev.jsonl): a Chinese question most of whose
        words the pages never use, with no sentence close to it, is about something else
        (云服务器扩容, 系统提示词). English words never stand in the Chinese pages, so English
        questions are refused on similarity alone. A question about an identifier the pages
        never contain (CBC.0200), or asking for a duration, a time or an amount that none of
        the answering sentences states (税率是多少, 多久审核完), is about the topic but not
        answered by the pages.
        """
        s = self.settings
        if assessment.unknown_ids:
            return f"the pages never mention {', '.join(assessment.unknown_ids)}"
        if assessment.similarity < s.refuse_min_similarity:
            return f"no sentence is close to the question (similarity {assessment.similarity:.3f})"
        foreign = assessment.unknown >= s.refuse_unknown_share and not is_english(question)
        if foreign and assessment.similarity < s.refuse_sure_similarity:
            return f"{assessment.unknown:.0%} of the question's words never appear in the pages"
        if assessment.confidence is not None:
            # The reading model has read whether a passage states what is asked; the kind
            # check below refused paraphrases whose answer it had ranked first.
            return self.refuses_by_reading(assessment)
        if not assessment.typed:
            return (
                f"the question asks for {assessment.expects} and no answering sentence states one"
            )
        return None

    def refuses_by_reading(self, assessment: Assessment) -> str | None:
        """Return why the reading model's confidence refuses, or None when it answers.

        The reading model has read the question with each passage; its probability that the
        best one answers refuses the near misses the rules above let through (calibrated on
        the tuning split of the dev help center, eval/faq/helpcenter_tune.jsonl).
        """
        assert assessment.confidence is not None
        if assessment.confidence < self.settings.refuse_min_confidence:
            return f"{READING_REFUSAL} (confidence {assessment.confidence:.3f})"
        return None

    def ask(self, question: str, history: Sequence[Turn] = (), k: int = 5) -> Answer:
        """Answer a question (with the conversation so far) from the help pages, or refuse."""
        turns = self.settings.history_turns
        query = self.rewriter(question, history[-turns:] if turns else [])
        ranking = self.retriever.rank(query, k)
        hits = ranking.hits
        if not hits:
            return refusal(query, hits, "nothing retrieved", english=is_english(question))
        assessment = self.assess(query, hits, question, ranking.confidence)
        reason = self.refuses(question, assessment)
        if reason is not None:
            answer = refusal(query, hits, reason, english=is_english(question))
        else:
            answer = self.answerer.answer(question, query, hits)
        return replace(answer, confidence=assessment.confidence)

    def close(self) -> None:
        """Release the indexes."""
        self.retriever.close()
