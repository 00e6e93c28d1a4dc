"""CLI commands of the ingest stage: `helpdesk ingest`, `helpdesk passages`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ingest.pipeline import IngestReport, Progress, run_ingest
from ingest.settings import Settings, get_settings
from ingest.store import Store


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """Yield a progress callback drawing a rich bar on stderr, or None when not a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, object] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))  # type: ignore[arg-type]

        yield update


def _print_report(report: IngestReport) -> None:
    state = " (unchanged: nothing to do)" if report.unchanged else ""
    click.echo(f"ingested {report.pages} page(s) in {report.seconds:.2f} s{state}")
    click.echo(f"  passages:          {report.passages_in} split -> {report.passages_out} kept")
    click.echo(f"  exact duplicates:  {report.exact_duplicates} merged")
    click.echo(
        f"  near duplicates:   {report.near_duplicates} merged"
        f" ({report.near_variants} variant(s) kept side by side)"
    )
    click.echo(f"  boilerplate lines: {report.boilerplate_lines} dropped")
    if not report.unchanged:
        click.echo(
            f"  store:             +{report.added} added, -{report.removed} removed,"
            f" ~{report.updated} updated"
        )
    if report.embedded:
        click.echo(
            f"  embedded:          {report.embedded} new sentence(s) with {report.embed_model}"
            f" on {report.embed_device}"
        )
    for skipped in report.skipped:
        click.echo(f"  skipped {skipped.path}: {skipped.reason}")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def ingest(paths: tuple[Path, ...], as_json: bool) -> None:
    """Ingest help pages (files or directories; default: the corpus setting)."""
    settings = get_settings()
    with _progress_bar(sys.stderr.isatty()) as progress:
        report = run_ingest(list(paths) or [settings.corpus], settings, progress)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_report(report)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def passages(as_json: bool) -> None:
    """List the kept passages: what the bot can cite."""
    settings = get_settings()
    store = Store.open_existing(settings.db_path)
    try:
        for p in store.passages():
            sources = [
                {"path": s.path, "url": s.url, "start": s.start, "end": s.end} for s in p.sources
            ]
            if as_json:
                row = {
                    "id": p.id,
                    "title": p.title,
                    "breadcrumb": p.breadcrumb,
                    "text": p.text,
                    "sources": sources,
                }
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                where = ", ".join(f"{s['path']}:{s['start']}-{s['end']}" for s in sources)
                heading = " > ".join(x for x in (p.breadcrumb, p.title) if x) or "(untitled)"
                click.echo(f"{p.id}  {heading}\n  {p.text}\n  at {where}\n")
    finally:
        store.close()


def ingest_with_report(settings: Settings) -> IngestReport:
    """Bring the index up to date with the corpus setting and print the report."""
    with _progress_bar(sys.stderr.isatty()) as progress:
        report = run_ingest([settings.corpus], settings, progress)
    _print_report(report)
    click.echo(f"index: {settings.db_path} ({report.passages_out} passages)")
    return report
