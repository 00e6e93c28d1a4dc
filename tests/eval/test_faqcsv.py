"""FAQ sets kept as CSV: JSON or `|`-separated cells, the same cases as JSONL, errors by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.faqcsv import load_cases, parse_csv
from eval.faqset import parse_faq
from tests.eval.test_faqset import FOLLOW_UP, OUT_OF_SCOPE, SINGLE

HEADER = "id,lang,answerable,question,turns,gold,facts\n"
PLAIN = (
    HEADER
    + "inv-1,zh,true,激励发票能开哪几种?,,增值税专用发票和电子专票,增值税专用发票/专票|电子专票\n"
    + "fu-1,zh,yes,那不完整的呢?,MDF核销有效期多长?|那不完整的呢?,最多保留45天,45天\n"
    + 'oos-1,en,false,"How do I resize a disk, online?",,,\n'
)
# The same cases as the JSONL tests', with a comma in the English question to quote in CSV.
JSONL = [SINGLE, FOLLOW_UP, {**OUT_OF_SCOPE, "question": "How do I resize a disk, online?"}]


def test_plain_cells_give_the_same_cases_as_jsonl() -> None:
    expected = parse_faq("\n".join(json.dumps(r, ensure_ascii=False) for r in JSONL))
    assert parse_csv(PLAIN) == expected


def test_json_cells_and_a_bom_from_excel(tmp_path: Path) -> None:
    row = [
        "inv-1",
        "zh",
        "1",
        "激励发票能开哪几种?",
        "",
        '["增值税专用发票和电子专票"]',
        '[["增值税专用发票", "专票"], ["电子专票"]]',
    ]
    cells = ",".join('"' + c.replace('"', '""') + '"' for c in row)
    path = tmp_path / "set.csv"
    path.write_text(HEADER + cells + "\n\n", encoding="utf-8-sig")
    [case] = load_cases(path)
    assert case.gold == ("增值税专用发票和电子专票",)
    assert case.facts == (("增值税专用发票", "专票"), ("电子专票",))
    assert case.turns == ("激励发票能开哪几种?",) and case.answerable is True


def test_a_jsonl_path_still_loads_as_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(JSONL[2]) + "\n", encoding="utf-8")
    assert [c.id for c in load_cases(path)] == ["oos-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,question,lang\nx,q,zh\n", "header lacks column(s) answerable, gold, facts"),
        (HEADER + "a,zh,maybe,q,,,\n", ":2: answerable must be true or false, not 'maybe'"),
        (HEADER + 'a,zh,true,q,,["x,\n', ":2: gold is not valid JSON"),
        (HEADER + "a,zh,true,q,,,\n", ":2: an answerable case needs at least one gold phrase"),
        (HEADER + "a,fr,false,q,,,\n", ":2: lang must be one of zh, en"),
        (HEADER + "a,zh,false,q,x|y,,\n", ":2: question must equal the last of turns"),
        (HEADER + "a,zh,false,q,,,\nb,zh,false,q,,,,extra\n", ":3: more cells than columns"),
        (HEADER + "a,zh,false,q,,,\n\na,zh,false,q2,,,\n", ":4: duplicate id 'a'"),
    ],
)
def test_bad_rows_are_reported_by_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_csv(text, source="set.csv")
    assert message in str(err.value)
    assert str(err.value).startswith("set.csv")
