"""The dev FAQ set: loads, meets its mix, and its gold and facts stand in the seed corpus."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eval.faqset import FaqCase, load_faq
from ingest.text import match_key

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "eval" / "faq" / "dev.jsonl"
SEED = ROOT / "corpus" / "000_703c6e61c96b5cdc.txt"
# The two registration snippets differ only in their first sentence: these mark both.
SHARED_GOLD = {"请更换其他手机号进行操作", "在华为云入驻页面填写入驻信息"}


@pytest.fixture(scope="module")
def cases() -> list[FaqCase]:
    return load_faq(DEV)


@pytest.fixture(scope="module")
def snippets() -> list[str]:
    """Return the seed's distinct snippets (normalized), without the site boilerplate."""
    lines = SEED.read_text(encoding="utf-8").splitlines()[2:]
    return list(dict.fromkeys(match_key(line) for line in lines if line.strip()))


def _answerable(cases: list[FaqCase]) -> list[FaqCase]:
    return [case for case in cases if case.answerable]


def test_mix_meets_the_minimums(cases: list[FaqCase]) -> None:
    assert len(cases) >= 70
    assert len({case.id for case in cases}) == len(cases)
    assert Counter(case.lang for case in cases)["en"] >= 12
    assert sum(not case.answerable for case in cases) >= 10
    assert sum(not case.answerable and case.lang == "en" for case in cases) >= 1
    follow_ups = [case for case in cases if case.multi_turn]
    assert len(follow_ups) >= 8
    assert all(2 <= len(case.turns) <= 3 for case in follow_ups)


def test_out_of_scope_cases_have_no_gold_or_facts(cases: list[FaqCase]) -> None:
    for case in cases:
        if not case.answerable:
            assert (case.gold, case.facts) == ((), ()), case.id


def test_answerable_cases_have_one_to_three_facts(cases: list[FaqCase]) -> None:
    for case in _answerable(cases):
        assert 1 <= len(case.facts) <= 3, case.id


def test_gold_phrases_are_short_and_stand_in_the_seed(
    cases: list[FaqCase], snippets: list[str]
) -> None:
    for case in _answerable(cases):
        for phrase in case.gold:
            assert 5 <= len(match_key(phrase)) <= 20, (case.id, phrase)
            assert any(match_key(phrase) in s for s in snippets), (case.id, phrase)


def test_gold_phrases_are_distinctive(cases: list[FaqCase], snippets: list[str]) -> None:
    for case in _answerable(cases):
        for phrase in set(case.gold) - SHARED_GOLD:
            found = sum(match_key(phrase) in s for s in snippets)
            assert found == 1, f"{case.id}: {phrase!r} stands in {found} distinct snippets"


def test_every_fact_has_an_alternative_in_the_seed(
    cases: list[FaqCase], snippets: list[str]
) -> None:
    for case in _answerable(cases):
        for alternatives in case.facts:
            keys = [match_key(alt) for alt in alternatives]
            assert any(key in s for key in keys for s in snippets), (case.id, alternatives)


def test_every_seed_snippet_answers_at_least_two_cases(
    cases: list[FaqCase], snippets: list[str]
) -> None:
    for snippet in snippets:
        answering = [c.id for c in cases if any(match_key(g) in snippet for g in c.gold)]
        assert len(answering) >= 2, snippet[:30]
