"""Re-index the corpus in a background thread while the current index keeps serving.

run_ingest writes the new passages in one SQLite transaction. Just before it commits, the
serving Assistant's connection is pinned to the store as it stands (a WAL read snapshot,
taken on the Assistant's worker thread), so it goes on answering wholly from the previous
index while the ingest commits, rebuilds the bm25s index and the new Assistant opens; the
vectors of removed passages are deleted only once the new Assistant serves. The status says
"done" when the new Assistant is open and about to take over (a question already queued
finishes on the old one): nothing from the new index is served before that. A failed
ingest leaves the old Assistant serving and the status says why.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from bot.assistant import Assistant
from bot.service import Service
from ingest.embed import Embedder, get_embedder
from ingest.errors import HelpdeskError
from ingest.pipeline import remove_stale_vectors, run_ingest
from ingest.settings import Settings

State = Literal["idle", "running", "done", "failed"]
Opener = Callable[[Settings, Embedder | None], Assistant]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReindexStatus:
    """Where the last re-index stands."""

    state: State = "idle"
    started: str | None = None
    finished: str | None = None
    report: dict[str, object] | None = None
    error: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Reindexer:
    """Run one re-index at a time and swap the service's Assistant when it completes."""

    def __init__(self, settings: Settings, service: Service, opener: Opener = Assistant.open):
        self.settings = settings
        self.service = service
        self.opener = opener
        self._status = ReindexStatus()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> ReindexStatus:
        """The status of the running or last re-index."""
        return self._status

    def start(self) -> bool:
        """Start a re-index in the background; return False when one is already running."""
        with self._lock:
            if self._status.state == "running":
                return False
            self._status = ReindexStatus("running", started=_now())
            self._thread = threading.Thread(target=self._run, name="reindex", daemon=True)
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running re-index (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _finish(self, **changes: object) -> None:
        with self._lock:
            self._status = replace(self._status, finished=_now(), **changes)  # type: ignore[arg-type]

    def _on_worker(self, fn: Callable[[], None]) -> None:
        """Run fn on the Assistant's worker thread (behind the calls queued there) and wait."""
        try:
            asyncio.run(self.service.on_worker(fn))
        except RuntimeError:
            # The worker was shut down: the app stopped, nothing serves the old index any more.
            log.info("the service stopped during a re-index")

    def _run(self) -> None:
        current = self.service.assistant
        pinned = current.retriever.store if current is not None else None
        try:
            # Reuse the serving model: loading a second copy costs seconds and memory.
            embedder = current.retriever.embedder if current is not None else None
            embedder = embedder or get_embedder(self.settings)
            report = run_ingest(
                [self.settings.corpus],
                self.settings,
                embedder=embedder,
                before_commit=(lambda: self._on_worker(pinned.begin_snapshot)) if pinned else None,
                prune_vectors=False,
            )
            new = self.opener(self.settings, embedder)
            self._finish(state="done", report=report.to_json())
            self.service.swap(new)
            removed = remove_stale_vectors(self.settings, embedder)
            with self._lock:
                data = {**(self._status.report or {}), "vectors_removed": removed}
                self._status = replace(self._status, report=data)
        except HelpdeskError as err:
            if self._status.state == "running":
                self._finish(state="failed", error=str(err))
            else:  # only pruning failed; the next run deletes those vectors
                log.warning("re-index: stale vectors left in place: %s", err)
        finally:
            if pinned is not None:
                self._on_worker(pinned.end_snapshot)  # a no-op once swap() closed it
            # Anything else is a bug: threading's excepthook logs it; the status must not
            # stay "running" for ever, which would refuse every later re-index.
            if self._status.state == "running":
                self._finish(state="failed", error="unexpected error: see the server log")
