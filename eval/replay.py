"""Replay a FAQ set through a system that answers, and score every reply.

Every system (the assistant in-process, a server's POST /api/ask, the baselines) is reduced
to the same record, a Reply parsed from the ask JSON, so one set of metrics applies to all.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.records import Answer, Turn
from eval.faqset import FaqCase
from eval.metrics import (
    citation_ok,
    first_relevant_rank,
    hit_at_k,
    mrr_at_k,
    percentile,
    refusal_scores,
    share,
    states_all_facts,
)
from ingest.errors import HelpdeskError

GROUPS = ("all", "zh", "en", "single", "multi")
CHECKS = ("hit1", "hit5", "facts", "citations", "refusal")
Scores = dict[str, float | int | None]


class ReplayError(HelpdeskError):
    """A system could not be asked, or answered with something that is not the ask JSON."""


@dataclass(frozen=True)
class Quote:
    """A citation as the ask JSON gives it: number, passage and the quoted span."""

    n: int
    passage_id: str
    quote: str
    text: str  # the cited passage's text
    title: str


@dataclass(frozen=True)
class Retrieved:
    """A retrieved passage as the ask JSON gives it."""

    passage_id: str
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class Reply:
    """What any system answered to one question (the ask JSON as a record)."""

    text: str
    refused: bool
    citations: tuple[Quote, ...]
    hits: tuple[Retrieved, ...]
    query: str
    reason: str = ""
    confidence: float | None = None  # the reading model's probability, when the system has one


Ask = Callable[[str, Sequence[Turn]], Answer | Reply]


def reply_from_json(data: Mapping[str, Any]) -> Reply:
    """Parse the ask JSON into a Reply; raise ReplayError when a field is missing or wrong."""
    try:
        return Reply(
            text=str(data["answer"]),
            refused=bool(data["refused"]),
            citations=tuple(
                Quote(
                    int(c["n"]),
                    str(c["passage_id"]),
                    str(c["quote"]),
                    str(c["text"]),
                    str(c.get("title") or ""),
                )
                for c in data["citations"]
            ),
            hits=tuple(
                Retrieved(
                    str(h["passage_id"]),
                    str(h.get("title") or ""),
                    str(h["text"]),
                    float(h["score"]),
                )
                for h in data["hits"]
            ),
            query=str(data.get("query") or ""),
            reason=str(data.get("reason") or ""),
            confidence=_probability(data.get("confidence")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayError(f"not the ask JSON ({type(exc).__name__}: {exc})") from exc


def _probability(value: Any) -> float | None:
    """Return a confidence from the ask JSON (absent or null: None)."""
    return None if value is None else float(value)


def reply_of(answer: Answer | Reply) -> Reply:
    """Return the Reply of an assistant Answer (through the ask JSON, as the API serves it)."""
    if isinstance(answer, Reply):
        return answer
    from bot.render import answer_json

    return reply_from_json(answer_json(answer))


def hit_text(hit: Retrieved) -> str:
    """Return what a gold phrase is looked for in: the passage's title and text."""
    return f"{hit.title} {hit.text}"


@dataclass(frozen=True)
class CaseResult:
    """One replayed case: the reply and how it scores."""

    case: FaqCase
    reply: Reply
    seconds: float  # the last turn only (earlier turns build the history)
    rank: int | None  # first relevant hit (answerable cases)
    facts_ok: bool
    citations_ok: tuple[bool, ...]

    @property
    def checks(self) -> dict[str, bool | None]:
        """Return pass/fail per metric for this case (None where the metric does not apply)."""
        answerable = self.case.answerable
        return {
            "hit1": self.rank == 1 if answerable else None,
            "hit5": self.rank is not None and self.rank <= 5 if answerable else None,
            "facts": self.facts_ok if answerable else None,
            "citations": all(self.citations_ok) if self.citations_ok else None,
            "refusal": self.reply.refused != answerable,
        }

    @property
    def passed(self) -> bool:
        """Return True when no metric failed on this case."""
        return all(ok is not False for ok in self.checks.values())


def score_case(case: FaqCase, reply: Reply, seconds: float) -> CaseResult:
    """Score one reply against its case."""
    texts = [hit_text(h) for h in reply.hits]
    return CaseResult(
        case,
        reply,
        seconds,
        first_relevant_rank(texts, case.gold) if case.answerable else None,
        case.answerable and not reply.refused and states_all_facts(reply.text, case.facts),
        tuple(citation_ok(c.quote, c.text, case.gold) for c in reply.citations),
    )


def replay(cases: Sequence[FaqCase], ask: Ask) -> list[CaseResult]:
    """Ask every case (follow-ups after their earlier turns, as history) and score each reply."""
    results = []
    for case in cases:
        history: list[Turn] = []
        for turn in case.history:
            previous = reply_of(ask(turn, list(history)))
            history += [Turn("user", turn), Turn("assistant", previous.text)]
        start = time.perf_counter()
        answer = ask(case.question, history)
        seconds = time.perf_counter() - start
        results.append(score_case(case, reply_of(answer), seconds))
    return results


def in_group(result: CaseResult, group: str) -> bool:
    """Return True when the case belongs to a reporting group (all, zh, en, single, multi)."""
    case = result.case
    return {
        "all": True,
        "zh": case.lang == "zh",
        "en": case.lang == "en",
        "single": not case.multi_turn,
        "multi": case.multi_turn,
    }[group]


def summary(results: Sequence[CaseResult]) -> Scores:
    """Return every metric of faq-format.md (and the floors' extras) over the results."""
    answerable = [r for r in results if r.case.answerable]
    ranks = [r.rank for r in answerable]
    refusals = refusal_scores(
        [r.reply.refused for r in results], [r.case.answerable for r in results]
    )
    zh_lengths = [
        len(r.reply.text) for r in answerable if r.case.lang == "zh" and not r.reply.refused
    ]
    millis = [r.seconds * 1000 for r in results]
    return {
        "cases": len(results),
        "answerable": len(answerable),
        "hit1": hit_at_k(ranks, 1),
        "hit5": hit_at_k(ranks, 5),
        "mrr10": mrr_at_k(ranks, 10),
        "fact_coverage": share([r.facts_ok for r in answerable]),
        "citation_precision": share([ok for r in results for ok in r.citations_ok]),
        # verbatim, not normalized: a quote must stand in its passage character for character
        "citation_quote_in_passage": share(
            [c.quote in c.text for r in results for c in r.reply.citations]
        ),
        "refusal_precision": refusals.precision,
        "refusal_recall": refusals.recall,
        "false_refusal_rate": refusals.false_refusal_rate,
        "follow_up_hit5": hit_at_k([r.rank for r in answerable if r.case.multi_turn], 5),
        "median_zh_answer_chars": statistics.median(zh_lengths) if zh_lengths else None,
        "latency_p50_ms": percentile(millis, 50),
        "latency_p95_ms": percentile(millis, 95),
    }


def by_group(results: Sequence[CaseResult]) -> dict[str, Scores]:
    """Return the summary overall, by language and by single/multi-turn."""
    return {g: summary([r for r in results if in_group(r, g)]) for g in GROUPS}


class HttpAsk:
    """Ask a running server: POST {url}/api/ask with the question and the history."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        import httpx

        self.url = url.rstrip("/") + "/api/ask"
        self.client = httpx.Client(timeout=timeout)

    def __call__(self, question: str, history: Sequence[Turn]) -> Reply:
        """Return the server's reply to the question; raise ReplayError on any failure."""
        import httpx

        body = {
            "question": question,
            "history": [{"role": t.role, "content": t.content} for t in history],
        }
        try:
            response = self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise ReplayError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise ReplayError(f"{self.url} answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ReplayError(f"{self.url} did not answer JSON") from exc
        if not isinstance(data, dict):
            raise ReplayError(f"{self.url} did not answer a JSON object")
        return reply_from_json(data)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()
