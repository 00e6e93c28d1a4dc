"""The replay report: report.json (what --compare reads), report.html and the printed table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from eval.calibration import calibration_json
from eval.replay import CHECKS, GROUPS, CaseResult, Scores, by_group

FORMAT = "helpdesk-eval-report/1"
Better = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class Metric:
    """How a metric of the summary is labelled, printed and compared."""

    key: str
    label: str
    better: Better
    unit: Literal["ratio", "ms", "count", "chars"] = "ratio"


METRICS = (
    Metric("cases", "cases", "neither", "count"),
    Metric("hit1", "hit@1", "higher"),
    Metric("hit5", "hit@5", "higher"),
    Metric("mrr10", "MRR@10", "higher"),
    Metric("fact_coverage", "fact coverage", "higher"),
    Metric("citation_precision", "citation precision", "higher"),
    Metric("citation_quote_in_passage", "quotes verbatim", "higher"),
    Metric("refusal_precision", "refusal precision", "higher"),
    Metric("refusal_recall", "refusal recall", "higher"),
    Metric("false_refusal_rate", "false refusals", "lower"),
    Metric("follow_up_hit5", "follow-up hit@5", "higher"),
    Metric("median_zh_answer_chars", "median zh answer", "neither", "chars"),
    Metric("latency_p50_ms", "latency p50 ms", "lower", "ms"),
    Metric("latency_p95_ms", "latency p95 ms", "lower", "ms"),
)
CHECK_LABELS = {
    "hit1": "hit@1",
    "hit5": "hit@5",
    "facts": "facts",
    "citations": "citations",
    "refusal": "refusal",
}


def fmt(value: float | int | None, unit: str = "ratio") -> str:
    """Return a metric value as printed: n/a, a count, milliseconds or a 3-decimal ratio."""
    if value is None:
        return "n/a"
    if unit in ("count", "chars"):
        return f"{value:g}"
    if unit == "ms":
        return f"{value:.1f}"
    return f"{value:.3f}"


def signed(delta: float, unit: str) -> str:
    """Return a change as printed, with its sign, in the metric's unit."""
    if unit in ("count", "chars"):
        return f"{delta:+g}"
    return f"{delta:+.1f}" if unit == "ms" else f"{delta:+.3f}"


def case_json(result: CaseResult) -> dict[str, Any]:
    """Return one replayed case as report.json holds it."""
    case, reply = result.case, result.reply
    return {
        "id": case.id,
        "lang": case.lang,
        "multi_turn": case.multi_turn,
        "answerable": case.answerable,
        "turns": list(case.turns),
        "question": case.question,
        "gold": list(case.gold),
        "facts": [list(f) for f in case.facts],
        "answer": reply.text,
        "refused": reply.refused,
        "reason": reply.reason,
        "confidence": reply.confidence,
        "query": reply.query,
        "citations": [
            {"n": c.n, "passage_id": c.passage_id, "title": c.title, "quote": c.quote, "ok": ok}
            for c, ok in zip(reply.citations, result.citations_ok, strict=True)
        ],
        "hits": [
            {"passage_id": h.passage_id, "title": h.title, "score": h.score, "text": h.text[:80]}
            for h in reply.hits
        ],
        "rank": result.rank,
        "latency_ms": round(result.seconds * 1000, 2),
        "checks": result.checks,
        "passed": result.passed,
    }


def build_report(results: Sequence[CaseResult], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return the report of a replay: what ran, metrics by group and every case."""
    cases = [case_json(r) for r in results]
    return {
        "format": FORMAT,
        "meta": {"created": datetime.now(UTC).isoformat(timespec="seconds"), **meta},
        "metrics": by_group(results),
        "calibration": calibration_json(cases),
        "cases": cases,
    }


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report.json; raise ValueError when the file is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a report ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a report.json of helpdesk eval ({FORMAT})")
    return data


def write_report(report: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    """Write report.json and report.html into out (created); return both paths."""
    from eval.report_html import render_html

    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


def metrics_table(metrics: Mapping[str, Scores]) -> str:
    """Return the metrics as a plain-text table: one row per metric, one column per group."""
    groups = [g for g in GROUPS if g in metrics]
    width = max(len(m.label) for m in METRICS)
    lines = [f"{'metric':<{width}} " + " ".join(f"{g:>8}" for g in groups)]
    for m in METRICS:
        cells = [fmt(metrics[g].get(m.key), m.unit) for g in groups]
        lines.append(f"{m.label:<{width}} " + " ".join(f"{c:>8}" for c in cells))
    return "\n".join(lines)


def failures_table(cases: Sequence[Mapping[str, Any]], limit: int = 20) -> str:
    """Return one line per failed case: its id and the checks it failed."""
    failed = [c for c in cases if not c["passed"]]
    lines = [f"{len(failed)} of {len(cases)} cases failed a check"]
    for c in failed[:limit]:
        checks = ", ".join(CHECK_LABELS[k] for k in CHECKS if c["checks"][k] is False)
        lines.append(f"  {c['id']:<10} {checks}")
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more (see report.html)")
    return "\n".join(lines)
