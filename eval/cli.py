"""`helpdesk eval`: replay a FAQ set against the bot and print the scores."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eval.faqset import load_faq
from eval.retrieval import groups, ranks, score


@click.command(name="eval")
@click.argument("faq", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--retrieval-only", is_flag=True, help="Score the rankings of each retriever.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_command(faq: Path, retrieval_only: bool, as_json: bool) -> None:
    """Replay a FAQ set (JSONL) and print hit@1, hit@5 and MRR@10."""
    from bot.retrieve import MODES, HybridRetriever
    from ingest.embed import get_embedder
    from ingest.settings import get_settings

    if not retrieval_only:
        raise click.UsageError("only --retrieval-only is available so far")
    settings = get_settings()
    cases = load_faq(faq)
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
        by_group = groups(cases)
        table[mode] = {
            name: score([found[cases[i].id] for i in idx]).__dict__
            for name, idx in by_group.items()
        }
        table[mode]["misses"] = sorted(cid for cid, r in found.items() if r != 1)
    if as_json:
        click.echo(json.dumps(table, ensure_ascii=False))
        return
    click.echo(
        f"{'retriever':<9} {'group':<7} {'cases':>5} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}"
    )
    for retriever_name, rows in table.items():
        for name, row in rows.items():
            if name == "misses" or not isinstance(row, dict):
                continue
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            click.echo(
                f"{retriever_name:<9} {name:<7} {row['cases']:>5} {fmt(row['hit1']):>6} "
                f"{fmt(row['hit5']):>6} {fmt(row['mrr10']):>7}"
            )
        click.echo(f"{retriever_name:<9} not first: {', '.join(rows['misses']) or '-'}")  # type: ignore[arg-type]
