"""Training pairs for the reading model, mined from an ingested store.

A question comes with the passages that answer it (none, for a question the pages leave
open) and, optionally, passages known to be about the same subject without answering it (the
confusable neighbours). Each answering passage gives a positive pair; the neighbours and the
passages the product's own retriever ranks highest for the question give hard negatives,
which is what the model must learn to tell apart; one random passage keeps easy negatives
in view. FAQ-style headings are questions the pages ask themselves: each gives a positive
pair with its passage's text read without the heading.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.reading.train import Pair
from bot.rerank import rerank_text
from bot.retrieve import Retriever
from ingest.records import Passage

_QUESTION_TITLE = re.compile(r"[?\uff1f]$")


@dataclass(frozen=True)
class Question:
    """A question with what answers it and what is near it without answering it."""

    text: str
    answers: tuple[str, ...] = ()  # passage ids
    neighbours: tuple[str, ...] = ()  # passage ids about the subject that do not answer
    kind: str = "written"
    unsure: tuple[str, ...] = ()  # passage ids that may or may not answer: never a pair


def reader_text(passage: Passage, with_title: bool = True) -> str:
    """Return what the reading model reads for a passage: its heading, then its text."""
    return rerank_text(passage) if with_title else passage.text


def title_questions(passages: Iterable[Passage]) -> list[Question]:
    """Return the passages' FAQ headings (ending in a question mark) as questions."""
    return [
        Question(p.title, (p.id,), kind="title")
        for p in passages
        if _QUESTION_TITLE.search(p.title.strip())
    ]


def mine_pairs(
    questions: Sequence[Question],
    passages: Sequence[Passage],
    retriever: Retriever,
    retrieved_negatives: int = 4,
    neighbour_negatives: int = 3,
    seed: int = 0,
) -> list[Pair]:
    """Label (question, passage) pairs: answers 1, neighbours and top retrieved non-answers 0.

    Up to neighbour_negatives of the question's neighbours (a random few when it has more)
    and its retrieved_negatives best-ranked non-answers are its hard negatives.
    """
    rng = random.Random(seed)
    by_id = {p.id: p for p in passages}
    pairs: list[Pair] = []
    for q in questions:
        answers = set(q.answers)
        skip = answers | set(q.unsure)
        for pid in q.answers:
            if pid in by_id:
                # A heading asked as a question must be answered by the text, not matched.
                text = reader_text(by_id[pid], with_title=q.kind != "title")
                pairs.append(Pair(q.text, text, 1.0, q.kind))
        negatives = [pid for pid in q.neighbours if pid not in skip and pid in by_id]
        if len(negatives) > neighbour_negatives:
            negatives = rng.sample(negatives, neighbour_negatives)
        taken = 0
        for hit in retriever.search(q.text, retrieved_negatives + len(answers) + 4):
            if taken == retrieved_negatives:
                break
            if hit.passage.id not in skip and hit.passage.id not in negatives:
                negatives.append(hit.passage.id)
                taken += 1
        others = [p.id for p in passages if p.id not in skip and p.id not in negatives]
        if others:
            negatives.append(rng.choice(others))
        for pid in negatives:
            pairs.append(Pair(q.text, reader_text(by_id[pid]), 0.0, f"{q.kind}-negative"))
    return pairs
