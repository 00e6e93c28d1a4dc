"""The report's calibration charts as inline SVG: confidence distributions and reliability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eval.report import fmt

ANSWERABLE, OUT_OF_SCOPE = "#27ae60", "#c0392b"


def confidence_histogram(
    answerable: Sequence[float],
    out_of_scope: Sequence[float],
    threshold: float | None,
    bins: int = 20,
) -> str:
    """Return an SVG of the two confidence distributions (shares per bin) and the threshold."""
    width, height, pad = 420, 190, 30
    plot_w, plot_h = width - 2 * pad, height - 2 * pad

    def shares(values: Sequence[float]) -> list[float]:
        counts = [0] * bins
        for v in values:
            counts[min(int(v * bins), bins - 1)] += 1
        return [c / len(values) if values else 0.0 for c in counts]

    series = [(shares(answerable), ANSWERABLE, 0), (shares(out_of_scope), OUT_OF_SCOPE, 1)]
    top = max(max(s) for s, _, _ in series) or 1.0
    bar = plot_w / bins / 2
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="confidence">']
    for values, colour, offset in series:
        for i, share in enumerate(values):
            h = plot_h * share / top
            x = pad + (2 * i + offset) * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{bar - 0.5:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{i / bins:.2f}–{(i + 1) / bins:.2f}: '
                f"{share:.0%}</title></rect>"
            )
    base = height - pad
    parts.append(f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="#555"/>')
    for tick in (0.0, 0.5, 1.0):
        x = pad + plot_w * tick
        parts.append(f'<text x="{x:.0f}" y="{base + 14}" font-size="11">{tick:.1f}</text>')
    if threshold is not None:
        x = pad + plot_w * threshold
        parts.append(
            f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{base}" stroke="#333" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{pad + 10}" font-size="11">'
            f"refuse below {threshold:.2f}</text>"
        )
    parts.append(
        f'<text x="{pad}" y="{pad - 12}" font-size="11" fill="{ANSWERABLE}">answerable '
        f'({len(answerable)})</text><text x="{pad + 130}" y="{pad - 12}" font-size="11" '
        f'fill="{OUT_OF_SCOPE}">out of scope ({len(out_of_scope)})</text></svg>'
    )
    return "".join(parts)


def reliability_plot(bins: Sequence[Mapping[str, Any]]) -> str:
    """Return an SVG reliability plot: mean confidence against how often the top hit answered."""
    size, pad = 220, 30
    plot = size - 2 * pad
    parts = [f'<svg width="{size}" height="{size}" role="img" aria-label="reliability">']
    parts.append(
        f'<rect x="{pad}" y="{pad}" width="{plot}" height="{plot}" fill="none" stroke="#ccc"/>'
        f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#aaa" '
        f'stroke-dasharray="3 3"/>'
    )
    most = max((b["count"] for b in bins), default=1)
    for b in bins:
        x = pad + plot * b["mean_confidence"]
        y = size - pad - plot * b["share_relevant"]
        r = 2 + 5 * (b["count"] / most) ** 0.5
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#2980b9"><title>'
            f"{b['low']:.1f}–{b['high']:.1f}: {b['count']} cases, mean {b['mean_confidence']:.2f}"
            f", top hit answered {b['share_relevant']:.0%}</title></circle>"
        )
    parts.append(
        f'<text x="{pad}" y="{size - 8}" font-size="11">confidence →</text>'
        f'<text x="4" y="{pad - 8}" font-size="11">top hit answered ↑</text></svg>'
    )
    return "".join(parts)


def calibration_section(calibration: Mapping[str, Any] | None) -> str:
    """Return the report's calibration section (empty without confidences)."""
    if not calibration:
        return ""
    chosen = calibration.get("chosen") or {}
    threshold = chosen.get("threshold")
    rows = "".join(
        f'<tr><td class="num">{s["threshold"]:.2f}</td><td class="num">'
        f'{fmt(s["oos_refused"])}</td><td class="num">{fmt(s["false_refusals"])}</td></tr>'
        for s in calibration["sweep"][::2]
    )
    note = (
        f"<p>Within a false-refusal budget of {calibration['budget']:.0%}, refusing below "
        f"{threshold:.3f} refuses {fmt(chosen.get('oos_refused'))} of the out-of-scope "
        f"questions ({fmt(chosen.get('false_refusals'))} of the answerable ones).</p>"
        if threshold is not None
        else ""
    )
    confidences = calibration["confidences"]
    return (
        f"<h2>Refusal calibration ({calibration['cases']} cases)</h2>{note}"
        f'<div class="charts"><div><h3>Confidence of the best passage</h3>'
        f"{confidence_histogram(confidences['answerable'], confidences['out_of_scope'], threshold)}"
        f"</div><div><h3>Reliability</h3>{reliability_plot(calibration['reliability'])}</div>"
        f"<div><h3>Refusing below a threshold</h3><table><tr><th>threshold</th>"
        f"<th>out of scope refused</th><th>answerable refused</th></tr>{rows}</table></div></div>"
    )
