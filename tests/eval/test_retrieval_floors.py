"""The dev FAQ set replayed against the real indexes: retrieval must stay above its floors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.retrieve import HybridRetriever
from eval.faqset import load_faq
from eval.retrieval import groups, ranks, score
from ingest.settings import Settings

DEV = Path(__file__).parents[2] / "eval" / "faq" / "dev.jsonl"


def test_fused_retrieval_meets_the_targets(seed_index: Settings, bundled_embedder: Any) -> None:
    cases = load_faq(DEV)
    retriever = HybridRetriever.open(seed_index, bundled_embedder)
    try:
        found = ranks([c for c in cases if c.answerable], retriever.search)
    finally:
        retriever.close()
    by_id = dict(zip([c.id for c in cases if c.answerable], found, strict=True))
    table = {name: score([by_id[cases[i].id] for i in idx]) for name, idx in groups(cases).items()}
    assert table["zh"].hit1 is not None and table["zh"].hit1 >= 0.9
    assert table["zh"].hit5 == 1.0
    assert table["en"].hit5 is not None and table["en"].hit5 >= 0.9


def test_eval_command_prints_all_three_retrievers(
    seed_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(seed_index.data_dir))
    result = CliRunner().invoke(cli, ["eval", str(DEV), "--retrieval-only", "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)
    assert set(table) == {"hybrid", "lexical", "dense"}
    assert table["lexical"]["zh"]["hit5"] == 1.0  # measured: each side alone finds its share
    assert table["dense"]["en"]["hit5"] == 1.0
    answerable = sum(1 for c in load_faq(DEV) if c.answerable)
    assert table["hybrid"]["all"]["cases"] == answerable
