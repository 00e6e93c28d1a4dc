"""Servers for tests, all on 127.0.0.1: an ASGI app in a thread, `helpdesk serve|run` and
`chroma run` in subprocesses, each stopped when its block ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import uvicorn

ADMIN_TOKEN = "test-token"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(
    method: str, url: str, body: object = None, token: str | None = None
) -> tuple[int, object]:
    """Send one JSON request; return the status and the decoded body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    return status, (json.loads(raw) if raw else None)


@contextmanager
def serving(app: object, name: str = "test-server", **config: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL (http://127.0.0.1:PORT)."""
    options = {"log_level": "warning", "timeout_graceful_shutdown": 1, **config}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **options))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class HelpdeskServer:
    """`helpdesk serve` (or `run`) on a free local port over a data directory, stopped on exit.

    The environment is this process's without its HELPDESK_* settings, plus the data
    directory, the corpus, the admin token, the partner origin (when given) and env.
    """

    def __init__(
        self,
        data_dir: Path,
        corpus: Path,
        log: Path,
        partner: str | None = None,
        *,
        command: str = "serve",
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.partner = partner  # the only origin allowed to call the API from a browser
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        environ.update(
            HELPDESK_DATA_DIR=str(data_dir),
            HELPDESK_CORPUS=str(corpus),
            HELPDESK_ADMIN_TOKEN=ADMIN_TOKEN,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False",
        )
        if partner:
            environ["HELPDESK_ALLOWED_ORIGINS"] = partner
        environ.update(env or {})
        self.log = log
        self._log_file = log.open("wb")
        cmd = [sys.executable, "-c", "from bot.cli import main; main()", command]
        self.proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=environ,
            cwd=data_dir.parent,  # away from the checkout's .env
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until GET /healthz answers 200; return the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"helpdesk exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"helpdesk not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        """Return the end of the server's log."""
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()

    def __enter__(self) -> HelpdeskServer:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def chroma_server(tmp: Path) -> Iterator[str]:
    """Run `chroma run` on a free loopback port until the block ends; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).parent / "chroma"
    log_path = tmp / "chroma.log"
    with log_path.open("wb") as log:
        args = ["run", "--path", str(tmp / "db"), "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen([str(chroma), *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"chroma run did not come up:\n{tail}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
