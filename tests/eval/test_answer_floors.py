"""The dev FAQ set replayed through the assistant must stay above eval/floors.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from eval.faqset import load_faq
from eval.replay import replay, summary
from ingest.settings import Settings

ROOT = Path(__file__).parents[2]
FLOORS = json.loads((ROOT / "eval" / "floors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scores(seed_index: Settings, bundled_embedder: Any) -> dict[str, Any]:
    assistant = Assistant.open(seed_index, bundled_embedder)
    try:
        results = replay(load_faq(ROOT / "eval" / "faq" / "dev.jsonl"), assistant.ask)
    finally:
        assistant.close()
    return summary(results)


@pytest.mark.parametrize("metric", [k for k in FLOORS if not k.startswith(("_", "max_"))])
def test_metric_is_at_least_its_floor(scores: dict[str, Any], metric: str) -> None:
    assert scores[metric] is not None and scores[metric] >= FLOORS[metric], scores


@pytest.mark.parametrize("metric", [k for k in FLOORS if k.startswith("max_")])
def test_metric_is_at_most_its_ceiling(scores: dict[str, Any], metric: str) -> None:
    name = metric.removeprefix("max_")
    assert scores[name] is not None and scores[name] <= FLOORS[metric], scores
