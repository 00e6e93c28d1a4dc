"""Drop site boilerplate from loaded pages: known banners and lines repeated across most pages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.records import Page
from ingest.text import match_key

# Site chrome of the vendor's help center, seen in the pages as delivered. Patterns match a
# whole block (line); they are about the site, never about a topic.
SITE_BOILERPLATE = (
    re.compile(r"^检测到您已登录华为云.{0,20}账号.*$"),
    re.compile(r"^不再显示此消息$"),
    re.compile(r"^(文档是否有帮助|意见反馈|上一篇|下一篇|分享|打印)[:\uff1a?\uff1f]?.{0,40}$"),
    re.compile(r"^(©|版权所有|Copyright\b).{0,120}$", re.IGNORECASE),
)
# A repeated line that looks like a step or list item is content (step 1 of every procedure
# is "使用合作伙伴账号登录华为云。"), not site chrome.
_LIST_ITEM = re.compile(r"^\s*(\d+[.\u3001)\uff0e]|[-*•·]\s)")


@dataclass(frozen=True)
class CleanResult:
    """Cleaned pages and how many blocks were dropped as boilerplate."""

    pages: tuple[Page, ...]
    dropped: int


def repeated_lines(pages: Sequence[Page], min_pages: int, share: float) -> frozenset[str]:
    """Return the match keys of text lines that stand on at least `share` of the pages."""
    if len(pages) < min_pages:
        return frozenset()
    seen: Counter[str] = Counter()
    for page in pages:
        keys = {
            match_key(page.block_text(b))
            for b in page.blocks
            if b.kind == "text" and not _LIST_ITEM.match(page.block_text(b))
        }
        seen.update(k for k in keys if k)
    floor = max(min_pages, share * len(pages))
    return frozenset(k for k, n in seen.items() if n >= floor)


def is_site_boilerplate(line: str) -> bool:
    """Tell whether a line is known site chrome (login banner, feedback prompts, copyright)."""
    stripped = line.strip()
    return any(p.match(stripped) for p in SITE_BOILERPLATE)


def clean_pages(pages: Sequence[Page], min_pages: int = 3, share: float = 0.6) -> CleanResult:
    """Drop boilerplate blocks from every page; offsets of the kept blocks are unchanged."""
    repeated = repeated_lines(pages, min_pages, share)
    cleaned: list[Page] = []
    dropped = 0
    for page in pages:
        kept = tuple(
            b
            for b in page.blocks
            if not is_site_boilerplate(page.block_text(b))
            and not (b.kind == "text" and match_key(page.block_text(b)) in repeated)
        )
        dropped += len(page.blocks) - len(kept)
        cleaned.append(replace(page, blocks=kept))
    return CleanResult(tuple(cleaned), dropped)
