"""report.json and report.html of a replay: keys, failures first, self-contained, escaped."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from eval.report import build_report, load_report, metrics_table, write_report
from eval.report_html import latency_histogram, render_html
from tests.eval.test_replay import results

META = {"system": "ours", "faq": "dev.jsonl", "target": "in-process"}


def test_report_json_holds_meta_metrics_by_group_and_every_case(tmp_path: Path) -> None:
    report = build_report(results(), META)
    json_path, html_path = write_report(report, tmp_path / "out")
    data = load_report(json_path)
    assert list(data) == ["format", "meta", "metrics", "calibration", "cases"]
    assert data["format"] == "helpdesk-eval-report/1"
    assert {k: data["meta"][k] for k in META} == META and "created" in data["meta"]
    assert list(data["metrics"]) == ["all", "zh", "en", "single", "multi"]
    assert data["metrics"]["all"]["hit5"] == pytest.approx(2 / 3)
    assert [c["id"] for c in data["cases"]] == ["zh-ok", "zh-bad", "en-miss", "oos-ok", "oos-bad"]
    first = data["cases"][1]
    assert set(first) == {
        "id", "lang", "multi_turn", "answerable", "turns", "question", "gold", "facts",
        "answer", "refused", "reason", "confidence", "query", "citations", "hits", "rank",
        "latency_ms", "checks", "passed",
    }  # fmt: skip
    assert data["calibration"] is None  # these replies carry no confidence
    assert first["turns"] == ["MDF核销有效期多长?", "那发票呢?"] and first["multi_turn"] is True
    assert first["citations"][0]["ok"] is False and first["rank"] == 2
    assert first["latency_ms"] == 20.0 and first["passed"] is False
    assert first["checks"] == {
        "hit1": False, "hit5": True, "facts": False, "citations": False, "refusal": True
    }  # fmt: skip
    assert html_path.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_load_report_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hybrid": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"not a report\.json of helpdesk eval"):
        load_report(path)


def test_html_is_self_contained_and_escapes_case_text() -> None:
    hostile = [replace(r, case=replace(r.case, question="<script>alert(1)</script>&"))
               for r in results()]  # fmt: skip
    html = render_html(build_report(hostile, {**META, "faq": "<b>x</b>.jsonl"}))
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in html
    assert "&lt;b&gt;x&lt;/b&gt;.jsonl" in html
    # nothing to fetch: no external stylesheet, image, font or script
    assert not re.search(r"https?://|<link|src=|@import|url\(", html)
    assert html.count("<svg") == 2 and "<style>" in html


def test_failed_cases_come_first_in_file_order() -> None:
    html = render_html(build_report(results(), META))
    order = re.findall(r"<td>(zh-ok|zh-bad|en-miss|oos-ok|oos-bad)<div", html)
    assert order == ["zh-bad", "en-miss", "oos-bad", "zh-ok", "oos-ok"]
    assert "Cases (3 of 5 failed a check, shown first)" in html
    # a pass/fail mark per metric: hit@1 ✗, hit@5 ✓, facts ✗, citations ✗, refusal ✓ on zh-bad
    row = html[html.index("<td>zh-bad<div") : html.index("</tr>", html.index("<td>zh-bad<div"))]
    marks = re.findall(r'<td><span class="(ok|bad|na)">', row)
    assert marks == ["bad", "ok", "bad", "bad", "ok"]


def test_latency_histogram_puts_a_slow_outlier_in_a_last_bin() -> None:
    svg = latency_histogram([10.0] * 60 + [20.0] * 39 + [5000.0])
    assert svg.count("<rect") == 20
    assert "≥ 20.0 ms (max 5000.0)" in svg
    assert "4990.0" not in svg  # the outlier does not stretch the axis


def test_metrics_table_rows_are_metrics_and_columns_groups() -> None:
    table = metrics_table(build_report(results(), META)["metrics"]).splitlines()
    assert table[0].split() == ["metric", "all", "zh", "en", "single", "multi"]
    assert table[1].split() == ["cases", "5", "3", "2", "4", "1"]
    assert table[2].split() == ["hit@1", "0.333", "0.500", "0.000", "0.500", "0.000"]
    assert "refusal recall" in table[9] and table[9].split()[2:] == [
        "0.500", "1.000", "0.000", "0.500", "n/a"
    ]  # fmt: skip
