"""Dense vectors of passages in Chroma: one collection per embedding model, cosine space."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import numpy as np

from ingest.errors import ConfigError, StoreError
from ingest.settings import Settings
from ingest.store import disk_problem, write_error

if TYPE_CHECKING:
    from chromadb.api.client import Client
    from chromadb.api.models.Collection import Collection

COLLECTION_PREFIX = "passages-"
_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")


def collection_name(model_id: str) -> str:
    """Return the Chroma collection name for model_id: prefix, 12-hex hash, readable part."""
    digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:12]
    readable = _NOT_NAME.sub("-", model_id).strip("-")[:48].rstrip("-")
    # The hash keeps two models apart even when their readable parts sanitize alike.
    return f"{COLLECTION_PREFIX}{digest}-{readable}" if readable else COLLECTION_PREFIX + digest


def _server_address(url: str) -> tuple[str, int, bool]:
    """Split a Chroma server URL into host, port and whether it uses TLS."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"HELPDESK_CHROMA_URL={url!r} is not an http(s)://host:port address.")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as exc:  # a port that is not a number or out of range
        raise ConfigError(f"HELPDESK_CHROMA_URL={url!r}: {exc}.") from exc
    return parts.hostname, port, ssl


def _unreachable(url: str) -> StoreError:
    return StoreError(
        f"Cannot reach the Chroma server at {url}. Start one with "
        f"`chroma run --path DIR --host 127.0.0.1 --port P` and set HELPDESK_CHROMA_URL to its "
        "address, or unset HELPDESK_CHROMA_URL to use the local store in the data directory."
    )


def _connect(settings: Settings) -> tuple[Client, str]:
    """Return a Chroma client (server or local store, as settings say) and where it points."""
    import chromadb  # costs ~1.7 s, so only when an index is really opened
    import httpx
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import InternalError

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    # cast: chromadb's factories are annotated ClientAPI, which lacks the close() they have.
    url = settings.chroma_url
    if url:
        host, port, ssl = _server_address(url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
        except ValueError as exc:
            # chromadb turns the httpx.ConnectError of its first request into a ValueError.
            if isinstance(exc.__context__, httpx.ConnectError):
                raise _unreachable(url) from exc
            raise StoreError(f"The Chroma server at {url} refused the client: {exc}") from exc
        return cast("Client", client), url
    path = Path(settings.data_dir) / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=path, settings=chroma_settings)
    except (OSError, InternalError) as exc:
        if disk_problem(path, exc):
            raise write_error("the Chroma store", path, exc, verb="open") from exc
        raise StoreError(f"Cannot open the Chroma store at {path}: {exc}") from exc
    return cast("Client", client), str(path)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class DenseIndex:
    """Dense vectors of passages in one Chroma collection per embedding model."""

    def __init__(
        self,
        client: Client,
        collection: Collection,
        *,
        model_id: str,
        dim: int,
        batch_size: int,
        location: str,
    ) -> None:
        self._client = client
        self._collection: Collection | None = collection
        self.model_id = model_id
        self.dim = dim
        self.batch_size = batch_size
        self.location = location  # the server URL or the local path, for messages

    @classmethod
    def open(
        cls, settings: Settings, model_id: str, dim: int, *, batch_size: int | None = None
    ) -> DenseIndex:
        """Open (creating if needed) the collection of model_id's dim-dimensional vectors."""
        if dim < 1:
            raise ConfigError(f"The embedding dimension must be positive, got {dim}.")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"The batch size must be positive, got {batch_size}.")
        import httpx
        from chromadb.errors import InternalError

        client, location = _connect(settings)
        try:
            collection = client.get_or_create_collection(
                collection_name(model_id),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"model_id": model_id, "dim": dim},
            )
            limit = client.get_max_batch_size()
        except httpx.ConnectError as exc:
            raise _unreachable(location) from exc
        except InternalError as exc:
            raise write_error("the Chroma store", Path(location), exc, verb="open") from exc
        stored_dim = (collection.metadata or {}).get("dim")
        if stored_dim != dim:
            client.close()
            raise StoreError(
                f"The Chroma collection {collection.name} at {location} holds "
                f"{stored_dim}-dimensional vectors of {model_id!r}, but {dim} dimensions were "
                "given; re-index to replace it."
            )
        size = limit if batch_size is None else min(batch_size, limit)
        return cls(
            client, collection, model_id=model_id, dim=dim, batch_size=size, location=location
        )

    @property
    def name(self) -> str:
        """Return the collection's name."""
        return collection_name(self.model_id)

    def _col(self) -> Collection:
        if self._collection is None:
            raise StoreError(f"The Chroma collection {self.name} was dropped; open it again.")
        return self._collection

    def _check_dim(self, given: int) -> None:
        if given != self.dim:
            raise StoreError(
                f"Vectors for {self.model_id!r} have {self.dim} dimensions, but {given} were given."
            )

    def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        """Call a Chroma method; a refused connection or a failed local write is a StoreError."""
        import httpx
        from chromadb.errors import InternalError

        try:
            return fn(**kwargs)
        except httpx.ConnectError as exc:
            raise _unreachable(self.location) from exc
        except InternalError as exc:  # the local store's SQLite: read-only, disk full, ...
            raise write_error("the Chroma store", Path(self.location), exc) from exc

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Insert or replace the vectors (one row per id), in batches Chroma accepts."""
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2:
            raise StoreError(f"Expected a 2-D array of vectors, got shape {array.shape}.")
        self._check_dim(array.shape[1])
        if len(ids) != array.shape[0]:
            raise StoreError(f"Got {len(ids)} ids for {array.shape[0]} vectors.")
        if metadatas is not None and len(metadatas) != len(ids):
            raise StoreError(f"Got {len(metadatas)} metadatas for {len(ids)} ids.")
        col = self._col()
        for part in _batches(len(ids), self.batch_size):
            kwargs: dict[str, Any] = {"ids": list(ids[part]), "embeddings": array[part]}
            if metadatas is not None:
                # Chroma rejects an empty dict; None means "no metadata" for that row.
                kwargs["metadatas"] = [dict(m) if m else None for m in metadatas[part]]
            self._call(col.upsert, **kwargs)

    def delete(self, ids: Sequence[str]) -> None:
        """Delete the vectors of ids; ids that are absent are ignored."""
        col = self._col()
        for part in _batches(len(ids), self.batch_size):
            self._call(col.delete, ids=list(ids[part]))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Return up to k (id, cosine similarity) pairs nearest to vector, best first."""
        query = np.asarray(vector, dtype=np.float32)
        if query.ndim == 2 and query.shape[0] == 1:
            query = query[0]
        if query.ndim != 1:
            raise StoreError(f"Expected one query vector, got shape {query.shape}.")
        self._check_dim(query.shape[0])
        if k < 1:
            return []
        result = self._call(
            self._col().query,
            query_embeddings=query[np.newaxis, :],
            n_results=k,
            include=["distances"],
        )
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def ids(self) -> set[str]:
        """Return the ids of every stored vector."""
        col, offset = self._col(), 0
        found: set[str] = set()
        while True:
            page = self._call(col.get, include=[], limit=self.batch_size, offset=offset)["ids"]
            found.update(page)
            if len(page) < self.batch_size:
                return found
            offset += len(page)

    def count(self) -> int:
        """Return how many vectors are stored."""
        return int(self._call(self._col().count))

    def drop(self) -> None:
        """Delete the collection and its vectors (when the embedding model changes)."""
        from chromadb.errors import NotFoundError

        with suppress(NotFoundError):  # already gone: dropping is idempotent
            self._call(self._client.delete_collection, name=self.name)
        self._collection = None

    def close(self) -> None:
        """Release the client (a local store's files stay open until the last client closes)."""
        self._client.close()

    def __enter__(self) -> DenseIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
