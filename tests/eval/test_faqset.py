"""Reading FAQ sets: the cases it builds and the bad input it rejects, by line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.faqset import FaqCase, load_faq, parse_faq

SINGLE = {
    "id": "inv-1",
    "lang": "zh",
    "answerable": True,
    "question": "激励发票能开哪几种?",
    "gold": ["增值税专用发票和电子专票"],
    "facts": [["增值税专用发票", "专票"], ["电子专票"]],
}
FOLLOW_UP = {
    "id": "fu-1",
    "lang": "zh",
    "answerable": True,
    "turns": ["MDF核销有效期多长?", "那不完整的呢?"],
    "question": "那不完整的呢?",
    "gold": ["最多保留45天"],
    "facts": [["45天"]],
}
OUT_OF_SCOPE = {
    "id": "oos-1",
    "lang": "en",
    "answerable": False,
    "question": "How do I resize a disk?",
    "gold": [],
    "facts": [],
}


def _jsonl(*records: dict[str, Any]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def test_load_faq_builds_frozen_cases(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(_jsonl(SINGLE, FOLLOW_UP, OUT_OF_SCOPE), encoding="utf-8")
    single, follow_up, oos = load_faq(path)
    assert single == FaqCase(
        id="inv-1",
        question="激励发票能开哪几种?",
        lang="zh",
        answerable=True,
        gold=("增值税专用发票和电子专票",),
        facts=(("增值税专用发票", "专票"), ("电子专票",)),
        turns=("激励发票能开哪几种?",),
    )
    assert (single.multi_turn, single.history) == (False, ())
    assert (follow_up.multi_turn, follow_up.history) == (True, ("MDF核销有效期多长?",))
    assert (oos.answerable, oos.gold, oos.facts, oos.lang) == (False, (), (), "en")


def test_blank_lines_are_skipped_and_empty_text_has_no_cases() -> None:
    assert [c.id for c in parse_faq("\n" + _jsonl(SINGLE) + "\n  \n")] == ["inv-1"]
    assert parse_faq("") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "id must be a non-empty string"),
        ({"question": 3}, "question must be a non-empty string"),
        ({"lang": "fr"}, "lang must be one of zh, en"),
        ({"answerable": 1}, "answerable must be true or false"),
        ({"gold": "增值税专用发票"}, "gold must be a list"),
        ({"gold": []}, "an answerable case needs at least one gold phrase"),
        ({"gold": ["。。"]}, "gold holds '。。'"),
        ({"facts": [[]]}, "every entry of facts needs at least one alternative"),
        ({"facts": [["专票", 5]]}, "facts holds 5"),
        ({"facts": ["专票"]}, "facts must be a list"),
        ({"turns": ["第一问", "别的问题"]}, "question must equal the last of turns"),
        ({"turns": []}, "question must equal the last of turns"),
        ({"answerable": False}, "an unanswerable case must have empty gold and facts"),
        ({"anwserable": True}, "unknown field"),
    ],
)
def test_bad_case_is_reported_with_its_line(change: dict[str, Any], message: str) -> None:
    text = _jsonl(OUT_OF_SCOPE, {**SINGLE, **change})
    with pytest.raises(ValueError, match=r"^set\.jsonl:2: ") as info:
        parse_faq(text, source="set.jsonl")
    assert message in str(info.value)


def test_missing_fields_are_named() -> None:
    record = {k: v for k, v in SINGLE.items() if k not in ("lang", "facts")}
    with pytest.raises(ValueError, match=r"^<string>:1: missing field\(s\) lang, facts$"):
        parse_faq(_jsonl(record))


def test_bad_json_and_non_objects_are_reported() -> None:
    with pytest.raises(ValueError, match=r"^<string>:2: not valid JSON"):
        parse_faq(_jsonl(SINGLE) + "{oops\n")
    with pytest.raises(ValueError, match=r"^<string>:1: a case must be a JSON object"):
        parse_faq("[1, 2]\n")


def test_duplicate_ids_name_both_lines() -> None:
    text = _jsonl(SINGLE, OUT_OF_SCOPE, SINGLE)
    with pytest.raises(ValueError, match=r"^<string>:3: duplicate id 'inv-1' \(first on line 1\)"):
        parse_faq(text)
