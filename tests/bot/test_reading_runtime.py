"""The reading model's run-time parts agree with what trained it: rows, tokens, question mask."""

from __future__ import annotations

import numpy as np
import pytest

from bot.reading.runtime import PairTokenizer, Q4WordEmbeddings, question_mask
from ingest.e5_convert import bundled_bin, bundled_tokenizer_json, read_bin
from ingest.errors import ConfigError

PAIRS = [
    ("激励发票能开哪几种?", "支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"),
    ("How long is an MDF claim kept?", "不完整的核销最多保留45天。"),
]


@pytest.fixture(scope="module")
def word_table() -> np.ndarray:
    """The float32 word embeddings as the training conversion reads them."""
    _, tensors = read_bin(bundled_bin())
    for name, values in tensors:
        if name == "embeddings.word_embeddings.weight":
            return values
    raise AssertionError("no word embeddings in the bundled model")


def test_rows_read_from_the_memory_map_equal_the_converted_table(word_table: np.ndarray) -> None:
    rows = Q4WordEmbeddings(bundled_bin())
    ids = np.array([[0, 6, 1000], [250000, 2, 1]])
    assert rows.rows(ids).shape == (2, 3, 384)
    np.testing.assert_array_equal(rows.rows(ids), word_table[ids])


def test_pairs_are_tokenized_as_the_cross_encoder_tokenizes_them() -> None:
    from transformers import XLMRobertaTokenizerFast

    reference = XLMRobertaTokenizerFast(tokenizer_file=str(bundled_tokenizer_json()))
    ids, mask = PairTokenizer(bundled_tokenizer_json(), 24).encode(PAIRS)
    expected = reference(
        [q for q, _ in PAIRS], [p for _, p in PAIRS], truncation="longest_first", max_length=24
    )["input_ids"]
    for row, want in enumerate(expected):
        assert ids[row, : len(want)].tolist() == want
        assert mask[row].sum() == len(want)
    assert ids.shape[1] == 24 and ids[0, 0] == 0  # <s> first, padded to the longest pair


def test_question_mask_covers_the_question_up_to_its_end_token() -> None:
    ids = np.array([[0, 11, 12, 2, 2, 21, 2, 1], [0, 13, 2, 2, 22, 23, 24, 2]])
    mask = (ids != 1).astype(np.int64)
    assert question_mask(ids, mask).tolist() == [
        [1, 1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0],
    ]


def test_the_training_head_pools_the_same_tokens() -> None:
    torch = pytest.importorskip("torch")
    from bot.reading.head import question_mask as torch_mask

    ids = np.array([[0, 11, 12, 2, 2, 21, 2, 1]])
    mask = (ids != 1).astype(np.int64)
    got = torch_mask(torch.tensor(ids), torch.tensor(mask)).numpy()
    np.testing.assert_array_equal(got, question_mask(ids, mask))


def test_a_model_file_that_is_not_one_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"e5-small-q4\.bin"):
        Q4WordEmbeddings(bad)
