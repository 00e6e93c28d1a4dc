"""Build pages from literal text for stage tests (one text block per non-blank line)."""

from __future__ import annotations

import re

from ingest.records import Block, Page
from ingest.text import bytes_sha


def text_page(text: str, path: str = "t.txt", headings: dict[int, int] | None = None) -> Page:
    """Return a page whose blocks are its non-blank lines; headings maps line index -> level."""
    blocks = []
    for i, m in enumerate(re.finditer(r"[^\n]*\S[^\n]*", text)):
        start, end = m.span()
        while text[start].isspace():
            start += 1
        end = start + len(m.group().strip())
        level = (headings or {}).get(i, 0)
        blocks.append(Block(start, end, "heading" if level else "text", level))
    return Page(path=path, text=text, blocks=tuple(blocks), sha=bytes_sha(text.encode()))
