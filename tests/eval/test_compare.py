"""--compare on two hand-made reports: metric deltas and the cases that got better or worse."""

from __future__ import annotations

from typing import Any

import pytest

from eval.compare import compare, comparison_lines, improved
from eval.replay import Reply, score_case
from eval.report import build_report
from eval.report_html import render_html
from tests.eval.test_replay import results

META = {"system": "ours", "faq": "dev.jsonl", "target": "in-process"}


def reports() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (old, new): zh-bad got fixed, zh-ok broke, oos-bad gone, new-1 added."""
    old = results()
    fixed = Reply("支持电子专票[1]", False, old[0].reply.citations, old[0].reply.hits, "q")
    broke = Reply("90天", False, (), old[1].reply.hits, "q")
    new = [
        score_case(old[0].case, broke, 0.010),
        score_case(old[1].case, fixed, 0.020),
        old[2],
        old[3],
        score_case(old[0].case.__class__(**{**old[0].case.__dict__, "id": "new-1"}), fixed, 0.01),
    ]
    return build_report(old, META), build_report(new, META)


def test_cases_that_flipped_are_listed_by_check() -> None:
    old, new = reports()
    changes = compare(old, new, against="old/report.json")
    assert changes["better"] == [{"id": "zh-bad", "checks": ["hit1", "facts", "citations"]}]
    assert changes["worse"] == [{"id": "zh-ok", "checks": ["hit1", "facts"]}]
    assert changes["added"] == ["new-1"] and changes["removed"] == ["oos-bad"]
    assert changes["against"] == "old/report.json" and changes["against_system"] == "ours"


def test_metric_changes_carry_direction() -> None:
    old, new = reports()
    rows = {(d["group"], d["key"]): d for d in compare(old, new)["metrics"]}
    recall = rows[("all", "refusal_recall")]  # oos-bad (answered) dropped: 1 of 1 refused
    assert (recall["old"], recall["new"], recall["improved"]) == (0.5, 1.0, True)
    assert recall["delta"] == pytest.approx(0.5)
    hit5 = rows[("all", "hit5")]  # new-1 found at rank 1
    assert (hit5["old"], hit5["new"], hit5["improved"]) == (pytest.approx(2 / 3), 0.75, True)
    assert ("all", "cases") not in rows  # 5 before and after
    assert ("all", "citation_quote_in_passage") not in rows  # 1.0 before and after
    assert rows[("multi", "hit1")]["improved"] is True


def test_lower_is_better_for_false_refusals_and_latency() -> None:
    assert improved("lower", 0.2, 0.1) is True
    assert improved("lower", 10.0, 12.0) is False
    assert improved("higher", 0.5, 0.5) is None
    assert improved("neither", 1, 2) is None
    assert improved("higher", None, 0.5) is None


def test_printed_comparison_highlights_worse_in_red_and_better_in_green() -> None:
    old, new = reports()
    lines = comparison_lines(compare(old, new, against="old/report.json"))
    assert lines[0] == ("Compared with old/report.json", None)
    assert lines[1][0].split() == ["metric", "group", "before", "now", "change"]
    recall = next(text for text, _ in lines if text.startswith("refusal recall       all"))
    assert recall.split() == ["refusal", "recall", "all", "0.500", "1.000", "+0.500", "better"]
    tail = lines[lines.index(("worse (1 cases)", "red")) :]
    assert tail == [
        ("worse (1 cases)", "red"),
        ("  zh-ok      hit@1, facts", "red"),
        ("better (1 cases)", "green"),
        ("  zh-bad     hit@1, facts, citations", "green"),
        ("added: new-1", None),
        ("removed: oos-bad", None),
    ]
    colours = {text.split()[0]: colour for text, colour in lines[2:] if "  all " in text}
    assert colours["refusal"] == "green"


def test_report_html_shows_the_comparison() -> None:
    old, new = reports()
    new["comparison"] = compare(old, new, against="old/report.json")
    html = render_html(new)
    assert "<h2>Compared with old/report.json</h2>" in html
    assert '<li class="worse">worse: <b>zh-ok</b> (hit@1, facts)</li>' in html
    assert '<div class="better">better: hit@1, facts, citations</div>' in html


def test_identical_reports_change_nothing() -> None:
    old, _ = reports()
    changes = compare(old, old)
    assert changes["better"] == changes["worse"] == changes["added"] == changes["removed"] == []
    assert changes["metrics"] == []
    assert ("no metric changed", None) in comparison_lines(changes)
