"""`helpdesk serve`: run the HTTP service with uvicorn, in one process or in N workers.

One process (the default) builds the app here and loads the index once. With --workers N,
uvicorn starts N processes that share the listening socket; each builds its app through
worker_app() (settings read from the environment) and loads the index itself. They share
the data directory's SQLite files (WAL: readers never wait, the few writes -- embedding cache,
answer log, feedback -- queue on the stores' busy timeout) and the Chroma collection.

A local Chroma store (data/chroma) is not safe for several processes once one of them
writes, so with a local store the workers only read it and the admin re-index is refused
(409): run `helpdesk ingest` with the service stopped, or use a Chroma server. With a Chroma
server (HELPDESK_CHROMA_URL) a re-index runs in the worker that received it, one at a time
across the workers (a lock file in the data directory); when it is done that worker asks
uvicorn (SIGHUP) to replace the workers one by one, so every worker loads the new index and
at every moment one is serving. A worker's responses carry its pid in X-Helpdesk-Worker.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import click
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from bot.api import create_app
from bot.deps import AppState, State
from bot.reindex import Reindexer
from bot.routes_admin import bearer, require_admin, start_reindex
from bot.service import Service
from ingest.settings import Settings, get_settings

log = logging.getLogger(__name__)
SUPERVISOR_ENV = "HELPDESK_SERVE_SUPERVISOR"  # pid of the `helpdesk serve` running the workers
WORKER_HEADER = b"x-helpdesk-worker"
LOCK_FILE = "reindex.lock"  # in the data directory
WORKER_READY_SECONDS = 60  # how long a replacement worker may take to start
NO_LOCAL_REINDEX = (
    "re-index is disabled with several workers and a local Chroma store (a second process "
    "writing to data/chroma could corrupt it): stop the service and run `helpdesk ingest`, "
    "or set HELPDESK_CHROMA_URL to a Chroma server"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def urls(host: str, port: int) -> dict[str, str]:
    """Return the addresses of the demo page, the console and the API docs."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    return {"demo": f"{base}/", "console": f"{base}/console", "docs": f"{base}/docs"}


def serve_app(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Print the service's URLs and serve it until interrupted.

    With workers > 1 each worker process reads its settings from the environment (and .env)
    as get_settings() does; the settings given here only decide what is printed.
    """
    import uvicorn

    for name, url in urls(host, port).items():
        click.echo(f"{name + ':':9} {url}")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    chroma = f"the Chroma server {settings.chroma_url}" if settings.chroma_url else "local Chroma"
    click.echo(f"workers:  {workers} processes, {chroma}")
    os.environ[SUPERVISOR_ENV] = str(os.getpid())  # inherited by the workers
    uvicorn.run(
        "bot.serve:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        # A replacement worker loads the index and the reading model before it is ready; on a
        # busy machine that took over uvicorn's 5 s default, which aborted the reload.
        timeout_worker_healthcheck=WORKER_READY_SECONDS,
    )


def worker_app() -> FastAPI:
    """Build the app of one of several worker processes (uvicorn's factory)."""
    settings = get_settings()
    app = create_app(settings)
    app.add_middleware(WorkerHeader)
    if settings.chroma_url:
        share_reindex(app, ReindexLock(settings.data_dir / LOCK_FILE))
    else:
        app.dependency_overrides[require_admin] = admin_without_reindex
    return app


class WorkerHeader:
    """ASGI middleware: name the worker process that answered (X-Helpdesk-Worker: pid)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                pid = str(os.getpid()).encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (WORKER_HEADER, pid)],
                }
            await send(message)

        await self.app(scope, receive, send_named)


def admin_without_reindex(
    request: Request,
    st: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AppState:
    """Check the admin token as usual, then refuse to start a re-index (409)."""
    admitted = require_admin(st, credentials)
    if request.scope.get("endpoint") is start_reindex:
        raise HTTPException(409, NO_LOCAL_REINDEX)
    return admitted


class ReindexLock:
    """An exclusive lock on a file that one process at a time holds (flock, non-blocking)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def claim(self) -> bool:
        """Take the lock; return False when this or another process holds it."""
        with self._mutex:
            if self._fd is not None:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def release(self) -> None:
        """Give the lock back (a process that dies gives it back too)."""
        with self._mutex:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None


class SharedReindexer(Reindexer):
    """A worker's re-indexer: one re-index at a time across the workers, then all reload."""

    def __init__(
        self, settings: Settings, service: Service, lock: ReindexLock, reload: Callable[[], None]
    ) -> None:
        super().__init__(settings, service)
        self.lock = lock
        self.reload = reload

    def start(self) -> bool:
        """Start a re-index unless one is running in any worker (then return False)."""
        if not self.lock.claim():
            return False
        if not super().start():
            self.lock.release()
            return False
        threading.Thread(target=self._then_reload, name="reindex-reload", daemon=True).start()
        return True

    def _then_reload(self) -> None:
        self.join()
        self.lock.release()
        if self.status.state == "done":
            self.reload()


def restart_workers() -> None:
    """Ask the `helpdesk serve` that runs this worker to replace its workers one by one."""
    supervisor = os.environ.get(SUPERVISOR_ENV, "")
    if supervisor.isdigit() and int(supervisor) == os.getppid():
        # uvicorn starts each replacement and waits until it serves before stopping the old.
        os.kill(os.getppid(), signal.SIGHUP)
    else:
        log.warning("re-indexed: restart the other workers so that they load the new index")


def share_reindex(app: FastAPI, lock: ReindexLock) -> None:
    """Give the app, once started, a SharedReindexer in place of its own re-indexer."""
    state: AppState = app.state.helpdesk
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with started(app):
            assert state.service is not None, "the app's lifespan opens the service"
            state.reindexer = SharedReindexer(state.settings, state.service, lock, restart_workers)
            yield

    app.router.lifespan_context = lifespan


WORKERS = click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes; each loads the index (see the README's `Past one machine`).",
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@WORKERS
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API, the widget, the demo page and the console over HTTP."""
    serve_app(get_settings(), host, port, workers)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@WORKERS
def run(host: str, port: int, workers: int) -> None:
    """Ingest the corpus if the index is missing or stale, then serve the product."""
    from ingest.cli import ingest_with_report

    settings = get_settings()
    ingest_with_report(settings)
    serve_app(settings, host, port, workers)
