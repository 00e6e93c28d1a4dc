"""Helpers of the real-browser tests: a `helpdesk serve` subprocess and Debian's chromium."""

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
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


class Server:
    """`helpdesk serve` on a free local port over a data directory, stopped on exit."""

    def __init__(self, data_dir: Path, corpus: Path, log: Path, partner: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.partner = partner  # the only origin allowed to call the API from a browser
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        env.update(
            HELPDESK_DATA_DIR=str(data_dir),
            HELPDESK_CORPUS=str(corpus),
            HELPDESK_ADMIN_TOKEN=ADMIN_TOKEN,
            HELPDESK_ALLOWED_ORIGINS=self.partner,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False",
        )
        self.log = log
        self._log_file = log.open("wb")
        cmd = [sys.executable, "-c", "from bot.cli import main; main()", "serve"]
        self.proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=data_dir.parent,  # away from the checkout's .env
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait until GET /healthz answers 200; return the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"helpdesk serve exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"helpdesk serve not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        """Return the end of the server's log."""
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()

    def __enter__(self) -> Server:
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


class PartnerSite:
    """A partner's web site on another local port: another origin, so CORS applies.

    A real server rather than page.route: Chromium treats a routed page as public and
    refuses its requests to the loopback API (local network access).
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                data = (body or "not found").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def host_page(server: str, lang: str = "zh", extra_css: str = "") -> str:
    """Return a partner page that embeds the widget with one async script tag."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>伙伴网站</title>
<style>
  /* hostile site CSS: none of it may reach into the widget */
  * {{ font-size: 40px !important; line-height: 3 !important; }}
  button {{ display: none !important; }}
  [hidden] {{ display: block !important; }}
  div {{ border: 3px dashed red !important; padding: 9px !important; }}
  textarea, input {{ width: 10px !important; }}
  div:empty {{ display: none !important; }}  /* the widget's host element is an empty div */
  {extra_css}
</style></head>
<body>
<a id="first-link" href="#top">页面链接</a>
<p id="site-text">伙伴网站正文</p>
<button id="site-button" type="button">网站按钮</button>
<script src="{server}/widget.js" data-title="伙伴中心助手" data-lang="{lang}" async></script>
</body></html>"""
