"""The extractive answerer: the sentences of the top passages that answer the question, cited.

No model writes anything: every sentence of an answer is a sentence of a retrieved passage,
marked with the citation [n] that quotes it. Sentences are scored against the query by
lexical coverage (the query's words they contain, longer words counting more) and by dense
similarity (their stored sentence vectors), with a small bonus for the better-ranked passage
and a penalty for navigation boilerplate (sentences standing in many passages, such as
``使用合作伙伴账号登录华为云。``). A how-to question over a procedure gets its steps in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.answer_type import expected_type, states
from bot.english_lead import english_lead
from bot.records import Answer, AnswererName, Citation
from bot.retrieve import Hit
from ingest.index import passage_segments
from ingest.lexicon import Tokenizer, with_chinese_terms
from ingest.text import match_key
from ingest.units import Unit, units

SentenceVectors = Callable[[Sequence[str]], np.ndarray]
QueryVector = Callable[[str], np.ndarray]
# The reading model: the probability that each text answers the query.
ClauseReader = Callable[[str, Sequence[str]], Sequence[float]]

# Questions that ask for a way to do something, in Chinese and English.
# "会怎么样" / "会怎样" ask what happens, not how to do it.
_HOW = re.compile(
    r"(?<!会)怎么(?!样)|(?<!会)怎样|如何|在哪|哪里|步骤|流程|入口|操作|how\b|where\b|steps?\b", re.I
)
# Sentences that are steps of a procedure in these help pages.
_STEP = re.compile(r"登录|单击|点击|选择|进入|填写|勾选|输入|在.{0,12}页面")
_LABEL = re.compile(r"^(操作步骤|操作流程|前提条件|背景信息|约束与限制|注意事项)[::\uff1a]?$")
_PROCEDURE = re.compile(r"^(操作步骤|操作流程)[::\uff1a]?$")
_NUMBERED = re.compile(r"^\s*\d+[.\u3001)\uff0e]\s*")
ENGLISH_NOTE = "From the help pages (in Chinese):"
REFUSAL_ZH = "抱歉\uff0c帮助文档中没有找到与该问题相关的内容。"


def is_english(text: str) -> bool:
    """Tell whether a question is written in English (mostly Latin letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    latin = sum(1 for ch in letters if ch.isascii())
    return bool(letters) and latin / len(letters) > 0.5


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored against the query."""

    hit: int  # index into the hits
    unit: Unit  # offsets into the passage's text
    lexical: float
    dense: float
    common: bool
    score: float
    typed: bool = False  # states the kind of answer asked for (a duration, an amount, ...)


@dataclass(frozen=True)
class AnswerOptions:
    """How much an extractive answer may hold."""

    passages: int = 3  # passages whose sentences are considered
    sentences: int = 3  # sentences in a factual answer
    chars: int = 160  # characters of quoted text in a factual answer
    steps: int = 8  # steps in a procedure answer
    keep_ratio: float = 0.7  # further sentences must score this share of the best
    other_passage_ratio: float = 0.95  # ... and sentences of another passage this share
    typed_bonus: float = 0.15  # for a sentence stating the kind of answer asked for
    # With the reading model: it reads the question with each clause of the best passages
    # (under their heading) and its probability adds this weight to the clause's score.
    reader_weight: float = 0.5
    read_passages: int = 2


class ExtractiveAnswerer:
    """Compose an answer from the retrieved passages' own sentences."""

    name: AnswererName = "extractive"

    def __init__(
        self,
        tokenizer: Tokenizer,
        sentence_vectors: SentenceVectors,
        query_vector: QueryVector,
        common_units: frozenset[str] = frozenset(),
        options: AnswerOptions | None = None,
        reader: ClauseReader | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.sentence_vectors = sentence_vectors
        self.query_vector = query_vector
        self.common_units = common_units
        self.options = options or AnswerOptions()
        self.reader = reader
        # The assistant scores candidates to decide on a refusal, then answers from the same
        # ones: keep the last scoring rather than embed and tokenize it all twice.
        self._last: tuple[tuple[str, str | None, tuple[str, ...]], list[Candidate]] | None = None

    def candidates(
        self, query: str, hits: Sequence[Hit], question: str | None = None
    ) -> list[Candidate]:
        """Score every clause of the top passages against the query, best first.

        When the query is a rewritten follow-up, the words of the question as asked count
        double: they say what the partner wants to know now, the rest is the topic.
        """
        key = (query, question, tuple(h.passage.id for h in hits[: self.options.passages]))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        ranked = self._score(query, hits, question)
        self._last = (key, ranked)
        return ranked

    def _score(self, query: str, hits: Sequence[Hit], question: str | None) -> list[Candidate]:
        top = hits[: self.options.passages]  # the passages whose sentences may be quoted
        asked = set(self.tokenizer.tokenize(question)) if question and question != query else set()
        asked_query = query
        query = with_chinese_terms(query)  # an English question's programme terms, in Chinese
        weights = {
            t: len(t) * (2 if t in asked else 1) for t in set(self.tokenizer.tokenize(query))
        }
        total = sum(weights.values())
        kind = expected_type(question or query)
        texts = [seg for h in top for seg in passage_segments(h.passage)]
        sims = self.sentence_vectors(texts) @ self.query_vector(query) if texts else np.empty(0)
        low, spread = (float(sims.min()), float(np.ptp(sims))) if len(sims) else (0.0, 0.0)
        clauses_of: list[list[tuple[Unit, float]]] = []
        row = 0
        for hit in top:
            pieces = units(hit.passage.text)
            clauses_of.append(_clauses(hit.passage.text, pieces, sims[row : row + len(pieces)]))
            row += len(pieces)
        read = self._read_clauses(asked_query, top, clauses_of)
        found: list[Candidate] = []
        for i, (hit, clauses) in enumerate(zip(top, clauses_of, strict=True)):
            for position, (clause, sim) in enumerate(clauses):
                reading = read.get((i, clause.start), 0.0)
                tokens = set(self.tokenizer.tokenize(f"{hit.passage.title} {clause.text}"))
                lexical = sum(w for t, w in weights.items() if t in tokens) / total if total else 0
                dense = (sim - low) / spread if spread > 1e-6 else 0.5
                common = match_key(clause.text) in self.common_units
                # Help articles lead with the answer: the first clauses get a small bonus.
                lead = 0.1 * (1 - position / len(clauses))
                score = 0.5 * lexical + 0.5 * dense + lead + 0.1 / (i + 1) - 0.3 * common
                typed = kind is not None and states(clause.text, kind)
                score += self.options.typed_bonus * typed + self.options.reader_weight * reading
                found.append(Candidate(i, clause, lexical, sim, common, score, typed))
        return sorted(found, key=lambda c: -c.score)

    def _read_clauses(
        self,
        query: str,
        top: Sequence[Hit],
        clauses_of: Sequence[Sequence[tuple[Unit, float]]],
    ) -> dict[tuple[int, int], float]:
        """Return the reading model's probability for each clause of the best passages.

        Keyed by (hit index, clause start). Empty without a reading model.
        """
        if self.reader is None:
            return {}
        keys: list[tuple[int, int]] = []
        texts: list[str] = []
        for i, (hit, clauses) in enumerate(zip(top, clauses_of, strict=True)):
            if i >= self.options.read_passages:
                break
            title = hit.passage.title
            for clause, _ in clauses:
                keys.append((i, clause.start))
                texts.append(f"{title}\n{clause.text}" if title else clause.text)
        return dict(zip(keys, self.reader(query, texts), strict=True)) if texts else {}

    def contenders(self, ranked: Sequence[Candidate]) -> list[Candidate]:
        """Return the candidates close enough to the best to be part of an answer."""
        if not ranked:
            return []
        floor = ranked[0].score * self.options.keep_ratio
        close = [c for c in ranked if c.score >= floor and not c.common]
        return close[: 2 * self.options.sentences] or [ranked[0]]

    def answer(self, question: str, query: str, hits: Sequence[Hit]) -> Answer:
        """Return the cited extractive answer (refusal is decided before, by the caller)."""
        ranked = self.candidates(query, hits, question)
        if not ranked:
            return refusal(query, hits, "no sentence to quote")
        best = ranked[0]
        # A how-to question over a passage with a procedure gets its steps, in order, after
        # the best clause when that clause is not itself one of the steps.
        steps = self._procedure(hits, best.hit) if _HOW.search(question) else None
        if steps is None:
            return compose(question, query, hits, self._facts(ranked))
        lead = [] if any(u.start == best.unit.start for _, u in steps) else [(best.hit, best.unit)]
        return compose(question, query, hits, lead + steps, numbered=True)

    def _facts(self, ranked: Sequence[Candidate]) -> list[tuple[int, Unit]]:
        """Pick the best sentence and the close runners-up, without repeats or boilerplate."""
        best = ranked[0]
        chosen = [(best.hit, best.unit)]
        seen = [match_key(best.unit.text)]
        size = len(best.unit.text)
        for c in ranked[1:]:
            full = len(chosen) >= self.options.sentences
            if full or c.score < best.score * self.options.keep_ratio:
                break
            key = match_key(c.unit.text)
            if c.common or not key or any(key in s or s in key for s in seen):
                continue
            # Another passage is quoted only when it is nearly as good: each citation
            # should point at a passage that answers.
            if c.hit != best.hit and c.score < best.score * self.options.other_passage_ratio:
                continue
            if size + len(c.unit.text) > self.options.chars:
                continue
            chosen.append((c.hit, c.unit))
            seen.append(key)
            size += len(c.unit.text)
        # Read in the passages' own order: by passage rank, then position.
        return sorted(chosen, key=lambda hu: (hu[0], hu[1].start))

    def _procedure(self, hits: Sequence[Hit], index: int) -> list[tuple[int, Unit]] | None:
        """Return the steps of the hit's procedure, if its passage has one."""
        pieces = units(hits[index].passage.text)
        label = next((i for i, u in enumerate(pieces) if _PROCEDURE.match(u.text.strip())), None)
        if label is not None:
            start: int | None = label + 1
        else:
            start = next((i for i, u in enumerate(pieces) if _STEP.search(u.text)), None)
        if start is None:
            return None
        steps = [u for u in pieces[start:] if u.text.strip()][: self.options.steps]
        if sum(1 for u in steps if _STEP.search(u.text)) < 2:
            return None
        return [(index, u) for u in steps]


def _clauses(text: str, pieces: Sequence[Unit], sims: np.ndarray) -> list[tuple[Unit, float]]:
    """Join fragments (table cells, headings) to the sentence they precede.

    A cell alone ("余额支付", "首单商用项目") states no fact; with the sentence after it, it
    does. A clause's similarity is its best unit's. Section labels stay out.
    """
    clauses: list[tuple[Unit, float]] = []
    start: Unit | None = None
    best = -1.0
    for k, unit in enumerate(pieces):
        if _LABEL.match(unit.text.strip()):
            start, best = None, -1.0
            continue
        start = start or unit
        best = max(best, float(sims[k]) if k < len(sims) else 0.0)
        if unit.is_sentence or k == len(pieces) - 1:
            clauses.append((Unit(start.start, unit.end, text[start.start : unit.end]), best))
            start, best = None, -1.0
    return clauses


def compose(
    question: str,
    query: str,
    hits: Sequence[Hit],
    chosen: Sequence[tuple[int, Unit]],
    numbered: bool = False,
) -> Answer:
    """Build the Answer: each chosen sentence with its [n]; one citation per quoted run."""
    citations: list[Citation] = []
    lines: list[str] = []
    number_of: dict[tuple[int, int], int] = {}  # (hit, first unit start) -> citation number
    for run in _runs(chosen):
        hit_index = run[0][0]
        passage = hits[hit_index].passage
        quote = passage.text[run[0][1].start : run[-1][1].end]
        n = len(citations) + 1
        citations.append(Citation(n, passage, quote))
        for _, unit in run:
            number_of[(hit_index, unit.start)] = n
    for k, (hit_index, unit) in enumerate(chosen, 1):
        n = number_of[(hit_index, unit.start)]
        text = unit.text.strip()
        if numbered:  # the steps are renumbered: drop the page's own "1." prefixes
            lines.append(f"{k}. {_NUMBERED.sub('', text)}[{n}]")
        else:
            lines.append(f"{text}[{n}]")
    body = "\n".join(lines) if numbered else "".join(lines)
    if is_english(question):
        body = f"{ENGLISH_NOTE}\n{body}"
        lead = _english_lead(question, chosen, number_of, hits)
        if lead:
            body = f"{lead}\n{body}"
    return Answer(body, tuple(citations), False, query, tuple(hits))


def _english_lead(
    question: str,
    chosen: Sequence[tuple[int, Unit]],
    number_of: dict[tuple[int, int], int],
    hits: Sequence[Hit],
) -> str | None:
    """Return an English lead stating the quantity asked for, cited, when a sentence has it."""
    kind = expected_type(question)
    if kind is None:
        return None
    for hit_index, unit in chosen:
        lead = english_lead(unit.text, kind)
        if lead:
            return f"{lead}[{number_of[(hit_index, unit.start)]}]"
    return None


def _runs(chosen: Sequence[tuple[int, Unit]]) -> list[list[tuple[int, Unit]]]:
    """Group chosen sentences into runs that are adjacent in the same passage."""
    runs: list[list[tuple[int, Unit]]] = []
    for hit_index, unit in chosen:
        last = runs[-1][-1] if runs else None
        # Only a unit that follows the last one joins its run: a lead sentence placed before
        # the steps it comes after in the page starts a quote of its own.
        if last is not None and last[0] == hit_index and 0 <= unit.start - last[1].end <= 1:
            runs[-1].append((hit_index, unit))
        else:
            runs.append([(hit_index, unit)])
    return runs


def refusal(query: str, hits: Sequence[Hit], reason: str, english: bool = False) -> Answer:
    """Return a plain refusal with up to three nearest topics as suggestions."""
    topics: list[str] = []
    for hit in hits:
        topic = hit.passage.title or hit.passage.text[:24]
        if topic not in topics:
            topics.append(topic)
        if len(topics) == 3:
            break
    if english:
        text = "Sorry, the help pages do not cover this question."
        if topics:
            text += " Nearest topics: " + "; ".join(topics)
    else:
        text = REFUSAL_ZH
        if topics:
            text += "相关主题\uff1a" + "\uff1b".join(topics)
    return Answer(text, (), True, query, tuple(hits), reason=reason, suggestions=tuple(topics))
