"""`helpdesk eval`: replay a FAQ set against the bot (or a baseline) and report the scores."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from eval.faqcsv import load_cases
from eval.faqset import FaqCase
from eval.replay import Ask, CaseResult, replay
from eval.retrieval import groups, ranks, score
from ingest.embed import Embedder
from ingest.settings import Settings

SYSTEMS = ("ours", "bm25", "naive-langchain")


@dataclass(frozen=True)
class System:
    """Something that answers, and how to let it go."""

    name: str
    target: str  # where the answers come from, for the report
    ask: Ask
    close: Callable[[], None]


def open_system(
    name: str, settings: Settings, url: str | None = None, embedder: Embedder | None = None
) -> System:
    """Open a system by name: ours (in-process, or a server at url) or a baseline."""
    from eval.baselines import BM25Baseline, NaiveLangChainBaseline, raw_texts

    if url is not None:
        if name != "ours":
            raise click.UsageError("--url replays our server; the baselines run in-process")
        from eval.replay import HttpAsk

        client = HttpAsk(url)
        return System(name, f"POST {client.url}", client, client.close)
    if name == "ours":
        from bot.assistant import Assistant

        assistant = Assistant.open(settings, embedder)
        return System(name, f"in-process, {settings.data_dir}", assistant.ask, assistant.close)
    if name == "bm25":
        bm25 = BM25Baseline(raw_texts(settings.corpus))
        return System(name, f"bm25 over the lines of {settings.corpus}", bm25.ask, bm25.close)
    if name == "naive-langchain":
        from ingest.embed import get_embedder

        naive = NaiveLangChainBaseline(
            raw_texts(settings.corpus), embedder or get_embedder(settings)
        )
        target = f"{naive.chunks} chunks of {settings.corpus} in a temporary Chroma store"
        return System(name, target, naive.ask, naive.close)
    raise click.UsageError(f"unknown system {name!r}: one of {', '.join(SYSTEMS)}")


def run_system(cases: Sequence[FaqCase], system: System) -> list[CaseResult]:
    """Replay the cases through a system and close it."""
    try:
        return replay(cases, system.ask)
    finally:
        system.close()


@click.command(name="eval")
@click.argument("faq", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--system",
    type=click.Choice(SYSTEMS),
    default="ours",
    show_default=True,
    help="Replay our assistant or one of the baselines.",
)
@click.option("--url", help="Replay a running server (POST URL/api/ask) instead of in-process.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.json and report.html [default: DATA_DIR/eval/SYSTEM].",
)
@click.option(
    "--compare",
    "old",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An earlier report.json: print what got better and worse.",
)
@click.option("--retrieval-only", is_flag=True, help="Score the rankings of each retriever.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_command(
    faq: Path,
    system: str,
    url: str | None,
    out: Path | None,
    old: Path | None,
    retrieval_only: bool,
    as_json: bool,
) -> None:
    """Replay a FAQ set (JSONL or CSV), print every metric and write report.json/.html."""
    from ingest.settings import get_settings

    try:
        cases = load_cases(faq)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="FAQ") from None
    settings = get_settings()
    if retrieval_only:
        if url is not None or system != "ours":
            raise click.UsageError("--retrieval-only scores our own retrievers, in-process")
        retrieval_table(cases, settings, as_json)
        return
    report_run(cases, faq, open_system(system, settings, url), out, old, as_json, settings)


def report_run(
    cases: Sequence[FaqCase],
    faq: Path,
    system: System,
    out: Path | None,
    old: Path | None,
    as_json: bool,
    settings: Settings,
) -> None:
    """Replay, write the reports, print the table (and the comparison with an old report)."""
    from eval.compare import compare, comparison_lines
    from eval.report import build_report, failures_table, load_report, metrics_table, write_report

    previous = None
    if old is not None:
        try:
            previous = load_report(old)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--compare") from None
    meta = {"system": system.name, "faq": str(faq), "target": system.target}
    report = build_report(run_system(cases, system), meta)
    if previous is not None:
        report["comparison"] = compare(previous, report, against=str(old))
    json_path, html_path = write_report(report, out or settings.data_dir / "eval" / system.name)
    if as_json:
        click.echo(json.dumps(report["metrics"], ensure_ascii=False))
        return
    click.echo(f"{system.name} on {faq} ({len(cases)} cases; {system.target})")
    click.echo(metrics_table(report["metrics"]))
    click.echo(failures_table(report["cases"]))
    if previous is not None:
        for text, colour in comparison_lines(report["comparison"]):
            click.secho(text, fg=colour)
    click.echo(f"report: {json_path}  {html_path}")


def retrieval_table(cases: Sequence[FaqCase], settings: Settings, as_json: bool) -> None:
    """Print hit@1, hit@5 and MRR@10 of the lexical, dense and fused retrievers."""
    from bot.retrieve import MODES, HybridRetriever
    from ingest.embed import get_embedder

    embedder = get_embedder(settings)
    table: dict[str, dict[str, object]] = {}
    for mode in MODES:
        retriever = HybridRetriever.open(settings, embedder, mode=mode)
        try:
            answerable = [c for c in cases if c.answerable]
            found = dict(
                zip((c.id for c in answerable), ranks(answerable, retriever.search), strict=True)
            )
        finally:
            retriever.close()
        table[mode] = {
            name: score([found[cases[i].id] for i in idx]).__dict__
            for name, idx in groups(cases).items()
        }
        table[mode]["misses"] = sorted(cid for cid, r in found.items() if r != 1)
    if as_json:
        click.echo(json.dumps(table, ensure_ascii=False))
        return
    click.echo(
        f"{'retriever':<9} {'group':<7} {'cases':>5} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}"
    )
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for retriever_name, rows in table.items():
        for name, row in rows.items():
            if name == "misses" or not isinstance(row, dict):
                continue
            click.echo(
                f"{retriever_name:<9} {name:<7} {row['cases']:>5} {fmt(row['hit1']):>6} "
                f"{fmt(row['hit5']):>6} {fmt(row['mrr10']):>7}"
            )
        click.echo(f"{retriever_name:<9} not first: {', '.join(rows['misses']) or '-'}")  # type: ignore[arg-type]
