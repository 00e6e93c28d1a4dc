"""Helpers of the real-browser tests: Debian's chromium and a partner site on another origin."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
