"""The shipped reading model: it loads, reads, and a missing or damaged file is named or skipped."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.reading.artifact import GRAPH, MANIFEST, WEIGHTS, load_bundled, read_manifest
from bot.rerank import get_reranker
from ingest.errors import ConfigError
from ingest.settings import Settings

INVOICE = (
    "为激励开票\n合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,"
    "不能开具增值税普通发票。"
)
DEADLINE = "激励开票截止日期\n申付单进入“待伙伴开票”状态后,伙伴须在40天内完成开票。"
MDF = "MDF核销有效期多长?\n自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。"


@pytest.fixture(scope="module")
def reader():  # type: ignore[no-untyped-def]
    return load_bundled()


def test_manifest_describes_the_shipped_graph() -> None:
    manifest = read_manifest(WEIGHTS)
    assert 1 <= manifest.layers <= 12 and manifest.max_length >= 64
    assert manifest.trained["train_pages"] and "unseen" not in str(manifest.trained["train_pages"])


def test_the_answering_passage_reads_best(reader) -> None:  # type: ignore[no-untyped-def]
    scores = reader.rerank("激励的发票可以开普票吗?", [MDF, DEADLINE, INVOICE])
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[2] == max(scores) and scores[2] > 0.5
    english = reader.rerank("How long do we have to submit an MDF claim?", [INVOICE, MDF])
    assert english[1] > english[0]


def test_scores_do_not_depend_on_the_batch(reader) -> None:  # type: ignore[no-untyped-def]
    alone = reader.rerank("开票截止日期是多久?", [DEADLINE])[0]
    batched = reader.rerank("开票截止日期是多久?", [MDF, DEADLINE, INVOICE, MDF * 3])[1]
    # int8 activations are quantized per run, so pairs run one at a time: no neighbour effect
    assert batched == alone


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "reader"
    shutil.copytree(WEIGHTS, folder)
    return folder


def test_a_missing_graph_falls_back_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy(tmp_path)
    (folder / GRAPH).unlink()
    settings = Settings(data_dir=tmp_path, rerank_model=str(folder))
    with caplog.at_level(logging.WARNING, logger="bot.rerank"):
        assert get_reranker(settings) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"the reading model file {folder / GRAPH} is missing (run `make reader`); "
        "ranking without the reading model"
    ]


def test_a_damaged_graph_is_named_and_can_be_required(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / GRAPH).open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 64)
    with pytest.raises(ConfigError, match=r"reader\.onnx does not match its manifest"):
        get_reranker(Settings(data_dir=tmp_path, rerank_model=str(folder), rerank_required=True))
    assert get_reranker(Settings(data_dir=tmp_path, rerank_model=str(folder))) is None


def test_a_damaged_manifest_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"manifest .*reader\.json is damaged"):
        read_manifest(folder)


def test_reranking_can_be_turned_off(tmp_path: Path) -> None:
    assert get_reranker(Settings(data_dir=tmp_path, rerank_model="none")) is None
