"""Render a report as one self-contained HTML page: inline CSS and SVG, no script, no network.

Every piece of case text goes through html.escape: a question may hold markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from eval.calibration_html import calibration_section
from eval.replay import CHECKS, GROUPS
from eval.report import CHECK_LABELS, METRICS, fmt, signed

GROUP_COLORS = {
    "all": "#34495e",
    "zh": "#c0392b",
    "en": "#2980b9",
    "single": "#27ae60",
    "multi": "#8e44ad",
}
MARKS = {True: ("ok", "✓"), False: ("bad", "✗"), None: ("na", "–")}
CSS = """
body{font:14px/1.45 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1e8449;font-weight:bold}.bad{color:#c0392b;font-weight:bold}.na{color:#aaa}
tr.failed{background:#fdf2f2}.turns{color:#777;font-size:12px}.answer{white-space:pre-wrap}
.cites{margin:0;padding-left:18px;font-size:12px}.better{color:#1e8449}.worse{color:#c0392b}
.meta td{border:none;padding:1px 8px 1px 0}.charts{display:flex;gap:32px;flex-wrap:wrap}
"""


def _mark(value: bool | None) -> str:
    cls, sign = MARKS[value]
    return f'<span class="{cls}">{sign}</span>'


def _meta(meta: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in meta.items()
    )
    return f'<table class="meta">{rows}</table>'


def _metrics(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    groups = [g for g in GROUPS if g in metrics]
    head = "".join(f"<th>{g}</th>" for g in groups)
    rows = []
    for m in METRICS:
        cells = "".join(
            f'<td class="num">{fmt(metrics[g].get(m.key), m.unit)}</td>' for g in groups
        )
        rows.append(f"<tr><th>{escape(m.label)}</th>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def metric_bars(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Return an SVG of the 0..1 metrics: one bar per reporting group, by metric."""
    groups = [g for g in GROUPS if g in metrics]
    ratios = [m for m in METRICS if m.unit == "ratio"]
    label_w, bar_w, bar_h, gap = 150, 260, 7, 10
    row_h = len(groups) * bar_h + gap
    height = len(ratios) * row_h + 24
    parts = [
        f'<svg width="{label_w + bar_w + 60}" '
        f'height="{height}" role="img" aria-label="metrics by group">'
    ]
    for i, m in enumerate(ratios):
        top = i * row_h
        parts.append(
            f'<text x="0" y="{top + row_h / 2 + 2}" font-size="12">{escape(m.label)}</text>'
        )
        for j, g in enumerate(groups):
            value = metrics[g].get(m.key)
            y = top + j * bar_h
            if value is None:
                continue
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{bar_w * value:.1f}" height="{bar_h - 1}" '
                f'fill="{GROUP_COLORS[g]}"><title>{m.label} {g}: {fmt(value)}</title></rect>'
            )
        value = metrics["all"].get(m.key) if "all" in metrics else None
        parts.append(
            f'<text x="{label_w + bar_w + 6}" y="{top + row_h / 2 + 2}" '
            f'font-size="11">{fmt(value)}</text>'
        )
    legend_y = len(ratios) * row_h + 14
    for j, g in enumerate(groups):
        x = label_w + j * 60
        parts.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{GROUP_COLORS[g]}"/><text x="{x + 14}" y="{legend_y}" '
            f'font-size="11">{g}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram(millis: Sequence[float], bins: int = 20) -> str:
    """Return an SVG histogram of the per-case latencies (ms); the slowest 2% share a last bin.

    One slow outlier (the first question warms caches up) would otherwise squash the rest.
    """
    width, height, pad = 420, 180, 30
    if not millis:
        return "<p>no latencies</p>"
    ordered = sorted(millis)
    low, high = ordered[0], ordered[int(0.98 * (len(ordered) - 1))]
    overflow = ordered[-1] > high
    span = (high - low) or 1.0
    counts = [0] * bins
    for ms in ordered:
        counts[min(int((ms - low) / span * (bins - overflow)), bins - 1)] += 1
    top = max(counts)
    bar = (width - 2 * pad) / bins
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="latency histogram">']
    for i, n in enumerate(counts):
        h = (height - 2 * pad) * n / top
        lo = low + span * i / (bins - overflow)
        hi = ordered[-1] if overflow and i == bins - 1 else lo + span / (bins - overflow)
        parts.append(
            f'<rect x="{pad + i * bar:.1f}" y="{height - pad - h:.1f}" width="{bar - 1:.1f}" '
            f'height="{h:.1f}" fill="#2980b9"><title>{lo:.1f}–{hi:.1f} ms: {n}</title></rect>'
        )
    base = height - pad
    last = f"≥ {high:.1f} ms (max {ordered[-1]:.1f})" if overflow else f"{high:.1f} ms"
    parts.append(f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="#555"/>')
    parts.append(f'<text x="{pad}" y="{base + 14}" font-size="11">{low:.1f} ms</text>')
    parts.append(
        f'<text x="{width - pad}" y="{base + 14}" font-size="11" text-anchor="end">{last}</text>'
    )
    parts.append(f'<text x="{pad}" y="{pad - 10}" font-size="11">max {top} cases a bin</text>')
    parts.append("</svg>")
    return "".join(parts)


def _comparison(comparison: Mapping[str, Any]) -> str:
    units = {m.key: m.unit for m in METRICS}
    rows: dict[bool, list[str]] = {True: [], False: []}
    for d in comparison.get("metrics", []):
        cls = {True: "better", False: "worse"}.get(d["improved"], "")
        unit = units.get(d["key"], "ratio")
        delta = "" if d["delta"] is None else signed(d["delta"], unit)
        rows[d["group"] == "all"].append(
            f'<tr class="{cls}"><td>{escape(d["group"])}</td><td>{escape(d["label"])}</td>'
            f'<td class="num">{fmt(d["old"], unit)}</td><td class="num">{fmt(d["new"], unit)}'
            f'</td><td class="num">{delta}</td></tr>'
        )
    head = "<tr><th>group</th><th>metric</th><th>before</th><th>now</th><th>change</th></tr>"
    table = f"<table>{head}{''.join(rows[True])}</table>" if rows[True] else "<p>no change</p>"
    if rows[False]:
        table += (
            f"<details><summary>by language and turns ({len(rows[False])} changes)</summary>"
            f"<table>{head}{''.join(rows[False])}</table></details>"
        )
    items = []
    for kind in ("worse", "better"):
        for c in comparison.get(kind, []):
            checks = ", ".join(CHECK_LABELS.get(k, k) for k in c["checks"])
            items.append(f'<li class="{kind}">{kind}: <b>{escape(c["id"])}</b> ({checks})</li>')
    for key in ("added", "removed"):
        ids = comparison.get(key, [])
        if ids:
            items.append(f"<li>{key}: {escape(', '.join(ids))}</li>")
    source = escape(str(comparison.get("against", "")))
    return f"<h2>Compared with {source}</h2>{table}<ul>{''.join(items)}</ul>"


def _case_row(c: Mapping[str, Any], change: str) -> str:
    earlier = "".join(f'<div class="turns">» {escape(t)}</div>' for t in c["turns"][:-1])
    cites = "".join(
        f"<li>{_mark(q['ok'])} [{q['n']}] {escape(q['title'])}: “{escape(q['quote'])}”</li>"
        for q in c["citations"]
    )
    marks = "".join(f"<td>{_mark(c['checks'][k])}</td>" for k in CHECKS)
    kind = "answerable" if c["answerable"] else "out of scope"
    refused = " <i>(refused)</i>" if c["refused"] else ""
    return (
        f'<tr class="{"" if c["passed"] else "failed"}"><td>{_mark(c["passed"])}</td>'
        f"<td>{escape(c['id'])}<div class='turns'>{escape(c['lang'])}, {kind}</div></td>"
        f"<td>{earlier}{escape(c['question'])}</td>"
        f'<td><div class="answer">{escape(c["answer"])}{refused}</div></td>'
        f'<td><ul class="cites">{cites}</ul></td>{marks}'
        f'<td class="num">{"-" if c["rank"] is None else c["rank"]}</td>'
        f'<td class="num">{c["latency_ms"]:.1f}</td><td>{change}</td></tr>'
    )


def _changes(comparison: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind in ("better", "worse"):
        for c in (comparison or {}).get(kind, []):
            checks = ", ".join(CHECK_LABELS.get(k, k) for k in c["checks"])
            out[c["id"]] = out.get(c["id"], "") + f'<div class="{kind}">{kind}: {checks}</div>'
    return out


def render_html(report: Mapping[str, Any]) -> str:
    """Return the report as a self-contained HTML page (failed cases first)."""
    cases = sorted(report["cases"], key=lambda c: c["passed"])  # stable: file order within
    changes = _changes(report.get("comparison"))
    head = "".join(f"<th>{CHECK_LABELS[k]}</th>" for k in CHECKS)
    rows = "".join(_case_row(c, changes.get(c["id"], "")) for c in cases)
    failed = sum(not c["passed"] for c in cases)
    system = escape(str(report["meta"].get("system", "")))
    comparison = report.get("comparison")
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>helpdesk eval: {system}</title><style>{CSS}</style></head><body>"
        f"<h1>helpdesk eval: {system}</h1>{_meta(report['meta'])}"
        f"<h2>Metrics</h2>{_metrics(report['metrics'])}"
        f'<div class="charts"><div><h2>Metrics by group</h2>{metric_bars(report["metrics"])}'
        f"</div><div><h2>Latency</h2>"
        f"{latency_histogram([c['latency_ms'] for c in cases])}</div></div>"
        f"{calibration_section(report.get('calibration'))}"
        f"{_comparison(comparison) if comparison else ''}"
        f"<h2>Cases ({failed} of {len(cases)} failed a check, shown first)</h2>"
        f"<table><tr><th></th><th>id</th><th>question</th><th>answer</th><th>citations</th>"
        f"{head}<th>rank</th><th>ms</th><th>change</th></tr>{rows}</table></body></html>\n"
    )
