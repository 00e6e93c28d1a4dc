"""The reading model's build path: train a tiny one, export it, and read it back without torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.reading.runtime import PairTokenizer, Q4WordEmbeddings, ReaderModel
from bot.reading.train import Pair, TrainOptions, export_onnx, read_pairs, train, write_pairs
from ingest.e5_convert import bundled_bin, bundled_tokenizer_json
from ingest.errors import ConfigError

pytestmark = pytest.mark.slow

PAIRS = [
    Pair("激励发票能开什么票?", "为激励开票\n支持开具增值税专用发票和电子专票。", 1.0),
    Pair("激励发票能开什么票?", "MDF核销有效期\n90天内须提交核销。", 0.0),
    Pair("提现收手续费吗?", "提现手续费\n华为云不收取提现手续费。", 1.0),
    Pair("提现收手续费吗?", "代金券下发\n单张代金券面额最高3万元。", 0.0),
    Pair("How long is an MDF claim kept?", "MDF核销有效期\n不完整的核销最多保留45天。", 1.0),
    Pair("How long is an MDF claim kept?", "提现手续费\n华为云不收取提现手续费。", 0.0),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pytest.importorskip("datasets", reason="needs the train extra: pip install -e '.[train]'")
    pytest.importorskip("onnx", reason="needs the train extra: pip install -e '.[train]'")
    work = tmp_path_factory.mktemp("reader-train")
    options = TrainOptions(layers=1, max_length=32, epochs=1, batch_size=4)
    return work, train(PAIRS, work, options)


def _reader(graph: Path) -> ReaderModel:
    tokenizer = PairTokenizer(bundled_tokenizer_json(), 32)
    return ReaderModel(graph, tokenizer, Q4WordEmbeddings(bundled_bin()))


def test_the_onnx_graph_reads_as_the_trained_model(trained) -> None:  # type: ignore[no-untyped-def]
    work, model = trained
    expected = model.predict([(p.query, p.passage) for p in PAIRS]).reshape(-1)
    exact = _reader(export_onnx(model, work / "fp32.onnx", quantize=False))
    alone = [exact.rerank(p.query, [p.passage])[0] for p in PAIRS]
    assert alone == pytest.approx(expected.tolist(), abs=1e-4)
    batched = exact.score([(p.query, p.passage) for p in PAIRS])
    assert batched.tolist() == pytest.approx(expected.tolist(), abs=1e-4)
    small = _reader(export_onnx(model, work / "int8.onnx"))
    assert (work / "int8.onnx").stat().st_size < (work / "fp32.onnx").stat().st_size / 2
    got8 = [small.rerank(p.query, [p.passage])[0] for p in PAIRS]
    # int8 weights move a probability by a few hundredths at this head's steep logit scale
    # (0.05 measured on AVX2); what must not move is which passage each question prefers.
    assert got8 == pytest.approx(expected.tolist(), abs=0.1)
    assert [got8[i] > got8[i + 1] for i in range(0, len(PAIRS), 2)] == [
        expected[i] > expected[i + 1] for i in range(0, len(PAIRS), 2)
    ]


def test_the_vocabulary_is_not_trained(trained) -> None:  # type: ignore[no-untyped-def]
    _, model = trained
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all("word_embeddings" in n for n in frozen)


def test_pairs_round_trip_through_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    write_pairs(PAIRS, path)
    assert read_pairs(path) == PAIRS
    path.write_text('{"query": "q"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pairs\.jsonl:1: not a training pair"):
        read_pairs(path)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="layers"):
        TrainOptions(layers=13)
    with pytest.raises(ValueError, match="max_length"):
        TrainOptions(max_length=8)
