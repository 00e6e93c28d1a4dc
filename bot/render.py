"""The answer as the ask JSON of the architecture (CLI --json and POST /api/ask), and as text."""

from __future__ import annotations

from bot.records import Answer, Citation


def citation_json(c: Citation) -> dict[str, object]:
    """Return a citation as JSON: number, passage, exact quote and where it stands."""
    source = c.passage.sources[0] if c.passage.sources else None
    return {
        "n": c.n,
        "passage_id": c.passage.id,
        "quote": c.quote,
        "text": c.passage.full_text,
        "title": c.passage.title,
        "breadcrumb": c.passage.breadcrumb,
        "source": {"path": source.path if source else None, "url": source.url if source else None},
    }


def answer_json(answer: Answer) -> dict[str, object]:
    """Return the ask JSON of an answer."""
    return {
        "answer": answer.text,
        "refused": answer.refused,
        "citations": [citation_json(c) for c in answer.citations],
        "hits": [
            {
                "passage_id": h.passage.id,
                "score": h.score,
                "title": h.passage.title,
                "text": h.passage.full_text,
            }
            for h in answer.hits
        ],
        "query": answer.query,
        "answerer": answer.answerer,
        "reason": answer.reason,
        "suggestions": list(answer.suggestions),
        "confidence": answer.confidence,
    }


def answer_text(answer: Answer) -> str:
    """Return the answer and its numbered citations as plain text (CLI, copy button)."""
    lines = [answer.text]
    if answer.citations:
        lines.append("")
    for c in answer.citations:
        heading = " > ".join(x for x in (c.passage.breadcrumb, c.passage.title) if x)
        source = c.passage.sources[0] if c.passage.sources else None
        where = (source.url or source.path) if source else ""
        lines.append(f"[{c.n}] {heading or '(untitled)'} — {where}")
        lines.append(f"    “{c.quote}”")
    return "\n".join(lines)
