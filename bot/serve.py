"""`helpdesk serve`: run the HTTP service with uvicorn (one process; it loads the index once)."""

from __future__ import annotations

import click

from ingest.settings import Settings, get_settings


def urls(host: str, port: int) -> dict[str, str]:
    """Return the addresses of the demo page, the console and the API docs."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    return {"demo": f"{base}/", "console": f"{base}/console", "docs": f"{base}/docs"}


def serve_app(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Print the service's URLs and serve it until interrupted."""
    import uvicorn

    from bot.api import create_app

    for name, url in urls(host, port).items():
        click.echo(f"{name + ':':9} {url}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def serve(host: str, port: int) -> None:
    """Serve the API, the widget, the demo page and the console over HTTP."""
    serve_app(get_settings(), host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def run(host: str, port: int) -> None:
    """Ingest the corpus if the index is missing or stale, then serve the product."""
    from ingest.cli import ingest_with_report

    settings = get_settings()
    ingest_with_report(settings)
    serve_app(settings, host, port)
