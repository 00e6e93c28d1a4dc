"""Refusal calibration: threshold sweep, the chosen threshold, reliability bins and the charts."""

from __future__ import annotations

import pytest

from eval.calibration import (
    Point,
    calibration_json,
    choose_threshold,
    points,
    reliability,
    sweep,
    sweep_at,
)
from eval.calibration_html import calibration_section, confidence_histogram, reliability_plot

# ten answerable cases (eight with a relevant top hit) and five out of scope
PTS = [Point(c, True, c > 0.5) for c in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.55, 0.3, 0.2)]
PTS += [Point(c, False, False) for c in (0.5, 0.4, 0.25, 0.1, 0.05)]


def test_sweep_at_counts_both_sides_of_the_threshold() -> None:
    row = sweep_at(PTS, 0.45)
    assert row.oos_refused == pytest.approx(4 / 5)
    assert row.false_refusals == pytest.approx(2 / 10)


def test_sweep_runs_from_zero_to_one() -> None:
    rows = sweep(PTS, steps=4)
    assert [r.threshold for r in rows] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert rows[0].oos_refused == 0.0 and rows[-1].false_refusals == 1.0


def test_chosen_threshold_keeps_false_refusals_within_the_budget() -> None:
    chosen = choose_threshold(PTS, budget=0.1)
    assert chosen is not None
    # one answerable refusal allowed (0.2): refuse below the midpoint of 0.25 and 0.3
    assert chosen.threshold == pytest.approx(0.275)
    assert chosen.false_refusals == pytest.approx(0.1)
    assert chosen.oos_refused == pytest.approx(3 / 5)
    wider = choose_threshold(PTS, budget=0.2)
    assert wider is not None and wider.oos_refused == pytest.approx(1.0)


def test_of_equal_refusals_the_fewest_false_ones_win() -> None:
    pts = [Point(0.9, True, True), Point(0.3, True, True), Point(0.1, False, False)]
    pts += [Point(0.95, False, False)]  # never refusable within the budget
    chosen = choose_threshold(pts, budget=0.5)
    # 0.2 and 0.6 both refuse the one refusable case; 0.6 also refuses the answerable 0.3
    assert chosen is not None
    assert (chosen.threshold, chosen.oos_refused, chosen.false_refusals) == (0.2, 0.5, 0.0)


def test_no_points_no_threshold() -> None:
    assert choose_threshold([]) is None
    assert calibration_json([{"confidence": None, "answerable": True}]) is None


def test_reliability_bins_hold_their_cases() -> None:
    table = reliability(PTS, bins=2)
    assert [(b.low, b.high, b.count) for b in table] == [(0.0, 0.5, 6), (0.5, 1.0, 9)]
    assert table[1].share_relevant == pytest.approx(8 / 9)  # 0.5 is out of scope


def test_points_come_from_report_cases() -> None:
    cases = [
        {"confidence": 0.8, "answerable": True, "rank": 1},
        {"confidence": 0.7, "answerable": True, "rank": 3},
        {"confidence": 0.2, "answerable": False, "rank": None},
        {"confidence": None, "answerable": True, "rank": 1},
    ]
    assert points(cases) == [
        Point(0.8, True, True),
        Point(0.7, True, False),
        Point(0.2, False, False),
    ]


def test_charts_render_as_svg() -> None:
    svg = confidence_histogram([0.9, 0.8], [0.1], 0.5)
    assert svg.startswith("<svg") and "refuse below 0.50" in svg and svg.endswith("</svg>")
    plot = reliability_plot([b.__dict__ for b in reliability(PTS)])
    assert plot.count("<circle") == len(reliability(PTS))


def test_section_states_the_chosen_threshold() -> None:
    cases = [{"confidence": p.confidence, "answerable": p.answerable, "rank": 1} for p in PTS]
    section = calibration_section(calibration_json(cases))
    assert "Refusal calibration (15 cases)" in section
    # the default budget is 5%, one answerable case is 10%: stay below the lowest, 0.2
    assert "refusing below 0.150 refuses 0.400" in section
    assert calibration_section(None) == ""
