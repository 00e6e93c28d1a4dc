"""Compare two replay reports: metric deltas, and the cases that got better or worse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.replay import CHECKS, GROUPS
from eval.report import CHECK_LABELS, METRICS, fmt, signed

EPSILON = 1e-9
Line = tuple[str, str | None]  # text and its colour (None: plain)


def improved(better: str, old: float | None, new: float | None) -> bool | None:
    """Return True/False when a metric moved the good/bad way, None when neither applies."""
    if old is None or new is None or better == "neither" or abs(new - old) <= EPSILON:
        return None
    return (new > old) == (better == "higher")


def metric_changes(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return every metric, by group, whose printed value differs between two reports."""
    out = []
    for group in GROUPS:
        if group not in old or group not in new:
            continue
        for m in METRICS:
            a, b = old[group].get(m.key), new[group].get(m.key)
            if fmt(a, m.unit) == fmt(b, m.unit):  # a change too small to print is noise
                continue
            out.append(
                {
                    "group": group,
                    "key": m.key,
                    "label": m.label,
                    "old": a,
                    "new": b,
                    "delta": None if a is None or b is None else b - a,
                    "improved": improved(m.better, a, b),
                }
            )
    return out


def case_changes(
    old_cases: list[Mapping[str, Any]], new_cases: list[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """Return the cases whose checks flipped to pass (better) or to fail (worse), by id."""
    before = {c["id"]: c for c in old_cases}
    now = {c["id"]: c for c in new_cases}
    better, worse = [], []
    for case_id, case in now.items():
        if case_id not in before:
            continue
        was = before[case_id]["checks"]
        up = [k for k in CHECKS if was.get(k) is False and case["checks"].get(k) is True]
        down = [k for k in CHECKS if was.get(k) is True and case["checks"].get(k) is False]
        if up:
            better.append({"id": case_id, "checks": up})
        if down:
            worse.append({"id": case_id, "checks": down})
    return {
        "better": better,
        "worse": worse,
        "added": [i for i in now if i not in before],
        "removed": [i for i in before if i not in now],
    }


def compare(old: Mapping[str, Any], new: Mapping[str, Any], against: str = "") -> dict[str, Any]:
    """Return what changed from the old report to the new one (stored in report.json)."""
    return {
        "against": against,
        "against_system": old.get("meta", {}).get("system"),
        "metrics": metric_changes(old["metrics"], new["metrics"]),
        **case_changes(old["cases"], new["cases"]),
    }


def _colour(flag: bool | None) -> str | None:
    return {True: "green", False: "red"}.get(flag) if flag is not None else None


def comparison_lines(comparison: Mapping[str, Any]) -> list[Line]:
    """Return the comparison as printed lines: metric deltas, then worse and better cases."""
    units = {m.key: m.unit for m in METRICS}
    lines: list[Line] = [(f"Compared with {comparison['against']}", None)]
    shown = [
        d
        for d in comparison["metrics"]
        if d["group"] == "all" or (d["improved"] is not None and units[d["key"]] == "ratio")
    ]
    if shown:
        lines.append((f"{'metric':<20} {'group':<7} {'before':>8} {'now':>8} {'change':>8}", None))
    for d in shown:
        unit = units[d["key"]]
        delta = "" if d["delta"] is None else signed(d["delta"], unit)
        word = {True: "  better", False: "  worse"}.get(d["improved"], "")
        text = (
            f"{d['label']:<20} {d['group']:<7} {fmt(d['old'], unit):>8} "
            f"{fmt(d['new'], unit):>8} {delta:>8}{word}"
        )
        lines.append((text, _colour(d["improved"])))
    if not comparison["metrics"]:
        lines.append(("no metric changed", None))
    for kind, colour in (("worse", "red"), ("better", "green")):
        cases = comparison[kind]
        lines.append((f"{kind} ({len(cases)} cases)", colour if cases else None))
        for c in cases:
            checks = ", ".join(CHECK_LABELS[k] for k in c["checks"])
            lines.append((f"  {c['id']:<10} {checks}", colour))
    for key in ("added", "removed"):
        if comparison[key]:
            lines.append((f"{key}: {', '.join(comparison[key])}", None))
    return lines
