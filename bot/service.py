"""The app's one Assistant: run on a single worker thread, and swapped after a re-index.

The Assistant is not safe to use from several threads at once: its SQLite connection, the
retriever's query-vector cache and the embedding cache are shared state. Every call goes to
one dedicated worker thread instead of a lock on the shared threadpool: requests queue
without holding a thread each. Parallel Assistants would not be faster: an ask is CPU-bound
and the bundled embedder serializes queries on its own lock (measured on the seed, 2 cores:
one Assistant 20-30 asks/s, four Assistants in four threads 19-32 asks/s).

A re-index builds a new Assistant in its own thread while the old one keeps serving; swap()
makes the new one current, and the old one is closed once no caller holds a lease on it
(a streaming answer holds its Assistant until the stream ends).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from bot.assistant import Assistant
from ingest.errors import IndexMissingError

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger(__name__)
CLOSE_WAIT = 300.0  # seconds a swap waits for streams on the old Assistant to end


class Service:
    """Hold the current Assistant and run calls on it one at a time."""

    def __init__(self, assistant: Assistant | None, *, owned: bool, missing: str = "") -> None:
        self._assistant = assistant
        self._owned = {assistant} if assistant is not None and owned else set()
        self._missing = missing or "no index is loaded: run `helpdesk ingest` or re-index"
        self._leases: dict[Assistant, int] = {}
        self._cond = threading.Condition()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant")
        self._closed = False

    @property
    def assistant(self) -> Assistant | None:
        """The current Assistant, or None when no index could be loaded."""
        return self._assistant

    @property
    def missing(self) -> str:
        """Why no Assistant is loaded."""
        return self._missing

    @contextmanager
    def lease(self) -> Iterator[Assistant]:
        """Hold the current Assistant open (raise IndexMissingError when there is none)."""
        with self._cond:
            assistant = self._assistant
            if assistant is None:
                raise IndexMissingError(self._missing)
            self._leases[assistant] = self._leases.get(assistant, 0) + 1
        try:
            yield assistant
        finally:
            with self._cond:
                self._leases[assistant] -= 1
                if not self._leases[assistant]:
                    del self._leases[assistant]
                self._cond.notify_all()

    async def on_worker(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run fn on the assistant's worker thread and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: fn(*args, **kwargs))

    async def call(self, fn: Callable[[Assistant], T]) -> T:
        """Run fn(current Assistant) on the worker thread."""
        with self.lease() as assistant:
            return await self.on_worker(fn, assistant)

    def swap(self, new: Assistant) -> None:
        """Make new the current Assistant; close the old one once nobody uses it."""
        with self._cond:
            if self._closed:  # the app stopped while a re-index was running
                new.close()
                return
            old, self._assistant = self._assistant, new
            self._owned.add(new)
            if old is None or old not in self._owned:
                return
            self._owned.discard(old)
            idle = self._cond.wait_for(lambda: old not in self._leases, timeout=CLOSE_WAIT)
        if not idle:
            log.warning("an old Assistant is still in use after %.0f s; left open", CLOSE_WAIT)
            return
        # On the worker, behind any call still running there: a stream whose client went
        # away gives its lease back before its ask has finished.
        self._worker.submit(old.close).result()

    def close(self) -> None:
        """Stop the worker and close the Assistants this service opened."""
        self._worker.shutdown(wait=True)
        with self._cond:
            self._closed = True
            for assistant in self._owned:
                assistant.close()
            self._owned.clear()
