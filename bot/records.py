"""Records of the answer stage. An Answer that cites what it did not retrieve cannot be built."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.retrieve import Hit
from ingest.errors import HelpdeskError
from ingest.records import Passage

AnswererName = Literal["extractive", "llm"]
Role = Literal["user", "assistant"]
MARKER = re.compile(r"\[(\d+)\]")


class CitationError(HelpdeskError):
    """An answer cites a passage that was not retrieved, or quotes text not in it."""


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True)
class Citation:
    """A numbered reference: the passage and the exact span of it the answer relies on."""

    n: int
    passage: Passage
    quote: str


@dataclass(frozen=True)
class Answer:
    """What the partner reads: text with [n] markers, its citations, or a plain refusal."""

    text: str
    citations: tuple[Citation, ...]
    refused: bool
    query: str  # the query actually used for retrieval (a follow-up is rewritten)
    hits: tuple[Hit, ...]
    answerer: AnswererName = "extractive"
    reason: str = ""
    suggestions: tuple[str, ...] = field(default=())
    # The reading model's probability that the best passage answers the question (None when
    # no reading model is loaded): what the refusal decided on, shown to agents and in eval.
    confidence: float | None = None

    def __post_init__(self) -> None:
        check_citations(self.text, self.citations, self.hits, self.refused)


def check_citations(
    text: str, citations: Sequence[Citation], hits: Sequence[Hit], refused: bool
) -> None:
    """Raise CitationError unless every citation is retrieved, verbatim and referenced."""
    retrieved = {h.passage.id: h.passage for h in hits}
    numbers = [c.n for c in citations]
    if refused and citations:
        raise CitationError("a refusal cites nothing")
    if numbers != list(range(1, len(numbers) + 1)):
        raise CitationError(f"citations must be numbered 1..{len(numbers)}, got {numbers}")
    for c in citations:
        passage = retrieved.get(c.passage.id)
        if passage is None:
            raise CitationError(f"[{c.n}] cites passage {c.passage.id}, which was not retrieved")
        if not c.quote.strip() or c.quote not in passage.text:
            raise CitationError(f"[{c.n}] quotes text that does not stand in its passage")
    markers = {int(m) for m in MARKER.findall(text)}
    if not markers <= set(numbers):
        raise CitationError(f"the answer refers to {sorted(markers - set(numbers))}, not cited")


class Answerer(Protocol):
    """Turn a question and its retrieved passages into an answer."""

    name: AnswererName

    def answer(self, question: str, query: str, hits: Sequence[Hit]) -> Answer:
        """Answer from the hits only (or refuse)."""
        ...
