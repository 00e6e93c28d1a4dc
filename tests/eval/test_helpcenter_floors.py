"""The dev help center's two question splits, replayed over the seed plus its pages: the floors.

eval/floors_helpcenter.json holds a floor ("group.metric": value) or a ceiling ("max_...")
per split, measured with the shipped reading model; the held-out split is never tuned on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from eval.faqset import load_faq
from eval.helpcenter.render import PAGES
from eval.replay import by_group, replay
from ingest.pipeline import run_ingest
from ingest.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
FLOORS = json.loads((ROOT / "eval" / "floors_helpcenter.json").read_text(encoding="utf-8"))
SPLITS = ("tune", "heldout")


@pytest.fixture(scope="module")
def helpcenter_index(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: Any) -> Settings:
    """Ingest the seed page and the dev help center's pages with the real model."""
    root = tmp_path_factory.mktemp("helpcenter")
    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus / "seed")
    shutil.copytree(PAGES, corpus / "helpcenter")
    settings = Settings(data_dir=root / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=bundled_embedder)
    return settings


@pytest.fixture(scope="module")
def scores(helpcenter_index: Settings, bundled_embedder: Any) -> dict[str, Any]:
    assistant = Assistant.open(helpcenter_index, bundled_embedder)
    try:
        return {
            split: by_group(
                replay(load_faq(ROOT / "eval" / "faq" / f"helpcenter_{split}.jsonl"), assistant.ask)
            )
            for split in SPLITS
        }
    finally:
        assistant.close()


def _bounds(ceilings: bool) -> list[tuple[str, str, float]]:
    """(split, "group.metric", bound) of the floors, or of the ceilings ("max_" keys)."""
    return [
        (split, key.removeprefix("max_"), value)
        for split in SPLITS
        for key, value in FLOORS[split].items()
        if not key.startswith("_") and key.startswith("max_") == ceilings
    ]


def _score(scores: dict[str, Any], split: str, name: str) -> float:
    group, metric = name.split(".")
    value = scores[split][group][metric]
    assert value is not None, (split, name)
    return float(value)


@pytest.mark.parametrize(("split", "name", "floor"), _bounds(ceilings=False))
def test_metric_is_at_least_its_floor(
    scores: dict[str, Any], split: str, name: str, floor: float
) -> None:
    assert _score(scores, split, name) >= floor, (split, name)


@pytest.mark.parametrize(("split", "name", "ceiling"), _bounds(ceilings=True))
def test_metric_is_at_most_its_ceiling(
    scores: dict[str, Any], split: str, name: str, ceiling: float
) -> None:
    assert _score(scores, split, name) <= ceiling, (split, name)
