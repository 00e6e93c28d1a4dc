"""CLI commands of the bot: `helpdesk search`, `helpdesk ask`, `helpdesk chat`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click

from bot.records import Turn
from bot.render import answer_json, answer_text
from bot.retrieve import MODES, Hit, HybridRetriever
from ingest.settings import get_settings


def hit_json(hit: Hit) -> dict[str, object]:
    """Return a hit as the JSON object `helpdesk search --json` prints."""
    source = hit.passage.sources[0] if hit.passage.sources else None
    return {
        "passage_id": hit.passage.id,
        "score": hit.score,
        "title": hit.passage.title,
        "breadcrumb": hit.passage.breadcrumb,
        "text": hit.passage.full_text,
        "source": None
        if source is None
        else {"path": source.path, "url": source.url, "start": source.start, "end": source.end},
        "ranks": hit.ranks,
    }


def queries(query: str) -> Iterator[str]:
    """Yield the query, or one query per non-blank line of standard input for `-`."""
    if query != "-":
        yield query
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


@click.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per query.")
def search(query: str, k: int, mode: str, as_json: bool) -> None:
    """Rank passages for QUERY (`-` reads one query per line from standard input)."""
    retriever = HybridRetriever.open(get_settings(), mode=mode)  # type: ignore[arg-type]
    try:
        for q in queries(query):
            hits = retriever.search(q, k)
            if as_json:
                row = {"query": q, "hits": [hit_json(h) for h in hits]}
                click.echo(json.dumps(row, ensure_ascii=False), nl=True)
                sys.stdout.flush()
                continue
            click.echo(f"# {q}")
            for i, hit in enumerate(hits, 1):
                heading = " > ".join(x for x in (hit.passage.breadcrumb, hit.passage.title) if x)
                ranks = f"lexical {hit.lexical_rank or '-'}, dense {hit.dense_rank or '-'}"
                click.echo(f"{i}. [{hit.score:.4f}; {ranks}] {heading or '(untitled)'}")
                click.echo(f"   {hit.passage.text}")
            if not hits:
                click.echo("   (no passage found)")
    finally:
        retriever.close()


@click.command()
@click.argument("question")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print the ask JSON (one line per question).")
def ask(question: str, k: int, as_json: bool) -> None:
    """Answer QUESTION with citations (`-` answers one question per line of standard input)."""
    from bot.assistant import Assistant

    assistant = Assistant.open(get_settings())
    try:
        for q in queries(question):
            answer = assistant.ask(q, k=k)
            if as_json:
                click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
                sys.stdout.flush()
            else:
                click.echo(answer_text(answer) + "\n")
    finally:
        assistant.close()


@click.command()
def chat() -> None:
    """Chat in the terminal: follow-up questions use the conversation so far."""
    from bot.assistant import Assistant

    assistant = Assistant.open(get_settings())
    history: list[Turn] = []
    click.echo("Ask about the partner center (empty line or Ctrl-D to quit).")
    try:
        while True:
            try:
                question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
            except (EOFError, click.exceptions.Abort):
                break
            if not question.strip():
                break
            answer = assistant.ask(question, history)
            click.echo(answer_text(answer) + "\n")
            history += [Turn("user", question), Turn("assistant", answer.text)]
    finally:
        assistant.close()
