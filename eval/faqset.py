"""Read and validate FAQ sets (JSONL, one case a line; format in docs/faq-format.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from ingest.text import match_key

Lang = Literal["zh", "en"]

_LANGS = ("zh", "en")
_REQUIRED = ("id", "question", "lang", "answerable", "gold", "facts")
_ALLOWED = frozenset((*_REQUIRED, "turns"))


@dataclass(frozen=True)
class FaqCase:
    """One question of a FAQ set and what a right answer to it contains."""

    id: str
    question: str
    lang: Lang
    answerable: bool
    gold: tuple[str, ...]
    facts: tuple[tuple[str, ...], ...]
    turns: tuple[str, ...]  # every user turn in order; (question,) for a single-turn case

    @property
    def multi_turn(self) -> bool:
        """Return True when the case is a follow-up (more than one user turn)."""
        return len(self.turns) > 1

    @property
    def history(self) -> tuple[str, ...]:
        """Return the user turns before the question."""
        return self.turns[:-1]


def load_faq(path: str | Path) -> list[FaqCase]:
    """Read a FAQ set file; raise ValueError naming the line of the first bad case."""
    path = Path(path)
    return parse_faq(path.read_text(encoding="utf-8"), source=str(path))


def parse_faq(text: str, source: str = "<string>") -> list[FaqCase]:
    """Parse FAQ set JSONL text (blank lines skipped); raise ValueError on bad input."""
    cases: list[FaqCase] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
        case = parse_case(raw, where)
        if case.id in seen:
            raise ValueError(f"{where}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = lineno
        cases.append(case)
    return cases


def parse_case(raw: Any, where: str) -> FaqCase:
    """Check one raw case (a JSON object) and return it as a FaqCase; where names it in errors."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a case must be a JSON object")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    case_id = _text(raw["id"], "id", where)
    question = _text(raw["question"], "question", where)
    if raw["lang"] not in _LANGS:
        raise ValueError(f"{where}: lang must be one of {', '.join(_LANGS)}")
    if type(raw["answerable"]) is not bool:
        raise ValueError(f"{where}: answerable must be true or false")
    gold = _phrases(raw["gold"], "gold", where)
    facts_raw = raw["facts"]
    if not isinstance(facts_raw, list):
        raise ValueError(f"{where}: facts must be a list of lists of strings")
    facts = tuple(_phrases(alts, "facts", where, nonempty=True) for alts in facts_raw)
    turns: tuple[str, ...] = (question,)
    if "turns" in raw:
        turns = tuple(_text(t, "turns", where) for t in _list(raw["turns"], "turns", where))
        if not turns or turns[-1] != question:
            raise ValueError(f"{where}: question must equal the last of turns")
    if raw["answerable"] and not gold:
        raise ValueError(f"{where}: an answerable case needs at least one gold phrase")
    if not raw["answerable"] and (gold or facts):
        raise ValueError(f"{where}: an unanswerable case must have empty gold and facts")
    return FaqCase(
        id=case_id,
        question=question,
        lang=cast(Lang, raw["lang"]),
        answerable=raw["answerable"],
        gold=gold,
        facts=facts,
        turns=turns,
    )


def _list(value: Any, name: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: {name} must be a list")
    return value


def _text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {name} must be a non-empty string")
    return value


def _phrases(value: Any, name: str, where: str, nonempty: bool = False) -> tuple[str, ...]:
    items = _list(value, name, where)
    if nonempty and not items:
        raise ValueError(f"{where}: every entry of {name} needs at least one alternative")
    for item in items:
        # a phrase that normalizes to nothing would match every text
        if not isinstance(item, str) or not match_key(item):
            raise ValueError(f"{where}: {name} holds {item!r}, not a phrase with letters or digits")
    return tuple(items)
