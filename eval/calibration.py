"""Calibration of the refusal: how the reading model's confidence separates what to refuse.

Each replayed case gives a point: the confidence the system reported (the reading model's
probability that its best passage answers), whether the case is answerable, and whether the
top passage was relevant. From them: the refusal each threshold would give (out-of-scope
refused, answerable refused), the threshold that refuses the most out-of-scope questions
within a false-refusal budget, and a reliability table (confidence bins against how often the
top passage really answered). Pure functions over report.json's cases; the HTML report draws
them (eval/calibration_html.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from bot.assistant import READING_REFUSAL

DEFAULT_BUDGET = 0.05  # the false-refusal rate the issue allows


@dataclass(frozen=True)
class Point:
    """One case as calibration sees it."""

    confidence: float
    answerable: bool
    top_relevant: bool  # answerable and its first hit relevant
    refused_by_rule: bool = False  # refused before the confidence was consulted


@dataclass(frozen=True)
class Sweep:
    """What refusing below a threshold would do on the cases."""

    threshold: float
    oos_refused: float  # share of out-of-scope cases refused
    false_refusals: float  # share of answerable cases refused


@dataclass(frozen=True)
class Bin:
    """A confidence bin of the reliability table."""

    low: float
    high: float
    count: int
    mean_confidence: float
    share_relevant: float  # how often the top passage really answered


def points(cases: Sequence[Mapping[str, Any]]) -> list[Point]:
    """Return the calibration points of report.json cases that carry a confidence."""
    return [
        Point(
            float(c["confidence"]),
            bool(c["answerable"]),
            c.get("rank") == 1,
            bool(c.get("refused")) and not str(c.get("reason", "")).startswith(READING_REFUSAL),
        )
        for c in cases
        if c.get("confidence") is not None
    ]


def sweep_at(pts: Sequence[Point], threshold: float) -> Sweep:
    """Return the refusal rates when every case below threshold is refused too.

    A case the assistant's other rules refused stays refused at every threshold.
    """
    oos = [p for p in pts if not p.answerable]
    answerable = [p for p in pts if p.answerable]
    return Sweep(
        threshold,
        _share([p.refused_by_rule or p.confidence < threshold for p in oos]),
        _share([p.refused_by_rule or p.confidence < threshold for p in answerable]),
    )


def sweep(pts: Sequence[Point], steps: int = 20) -> list[Sweep]:
    """Return the refusal rates at thresholds 0, 1/steps, ... 1."""
    return [sweep_at(pts, i / steps) for i in range(steps + 1)]


def choose_threshold(pts: Sequence[Point], budget: float = DEFAULT_BUDGET) -> Sweep | None:
    """Return the threshold refusing the most out-of-scope cases within the false-refusal budget.

    Of thresholds refusing as many, the one with the fewest false refusals (the lowest) wins.

    Candidates are midpoints between neighbouring confidences, so the choice does not sit
    on a case's own value. None when no case has a confidence.
    """
    if not pts:
        return None
    values = sorted({p.confidence for p in pts})
    candidates = [0.0] + [(a + b) / 2 for a, b in pairwise(values)]
    best = sweep_at(pts, 0.0)
    for threshold in candidates:
        row = sweep_at(pts, threshold)
        if row.false_refusals > budget:
            continue
        more = row.oos_refused > best.oos_refused
        if more or (
            row.oos_refused == best.oos_refused and row.false_refusals < best.false_refusals
        ):
            best = row
    return Sweep(round(best.threshold, 4), best.oos_refused, best.false_refusals)


def reliability(pts: Sequence[Point], bins: int = 10) -> list[Bin]:
    """Return the reliability table: equal-width confidence bins that hold cases."""
    table = []
    for i in range(bins):
        low, high = i / bins, (i + 1) / bins
        inside = [
            p for p in pts if low <= p.confidence < high or (i == bins - 1 and p.confidence == 1)
        ]
        if inside:
            table.append(
                Bin(
                    low,
                    high,
                    len(inside),
                    sum(p.confidence for p in inside) / len(inside),
                    sum(p.top_relevant for p in inside) / len(inside),
                )
            )
    return table


def calibration_json(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Return the calibration section of report.json, or None without confidences."""
    pts = points(cases)
    if not pts:
        return None
    chosen = choose_threshold(pts)
    return {
        "cases": len(pts),
        "chosen": chosen.__dict__ if chosen else None,
        "budget": DEFAULT_BUDGET,
        "sweep": [s.__dict__ for s in sweep(pts)],
        "reliability": [b.__dict__ for b in reliability(pts)],
        "confidences": {
            "answerable": sorted(p.confidence for p in pts if p.answerable),
            "out_of_scope": sorted(p.confidence for p in pts if not p.answerable),
        },
    }


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0
