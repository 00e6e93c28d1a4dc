"""Split a cleaned page into passages a citation can point at: one topic each, bounded length.

The pages give their structure in three ways, all used here:

- heading blocks (markdown/HTML headings, a short line standing alone) open a topic that
  runs until the next heading of the same or a higher level;
- inside a line of a search-snippet page, a title stands between sentences: doubled
  (``为激励开票 为激励开票``), a FAQ question (``MDF核销有效期多长?``), or a short fragment
  followed by sentences (``… 敏感关系申报 使用合作伙伴账号登录华为云。 …``); such a title
  holds only for the rest of its line, since each snippet line is its own search result;
- ``父主题: X`` closes an article and names its parent topic: the breadcrumb.

Section labels such as ``操作步骤`` stay in the text and keep their steps together.
Passages are packed from whole units (sentences or fragments), never cut inside one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from ingest.records import Block, Page, Passage, Source
from ingest.text import content_id, squash_space
from ingest.units import Unit, units

SECTION_LABELS = frozenset({
    "操作步骤", "前提条件", "背景信息", "操作场景", "应用场景", "适用场景", "约束与限制",
    "使用限制", "注意事项", "相关操作", "后续操作", "后续处理", "处理方法", "解决方法",
    "解决方案", "问题描述", "问题现象", "原因分析", "可能原因", "操作流程", "功能介绍",
    "示例", "说明", "须知", "注意", "警告", "前提", "相关文档", "参考",
})  # fmt: skip
_TRAILER = re.compile(r"^父主题\s*[:\uff1a]\s*(?P<parent>.*)$")
_LIST_ITEM = re.compile(r"^(\d+[.\u3001)\uff0e]|[-*•·]\s|[(\uff08]?\d+[)\uff09])")
_TITLE_MAX = 20
_QUESTION_MAX = 60
# Punctuation that a title does not contain (ASCII and full-width).
_NOT_IN_TITLE = re.compile(r"[,;:()!<>\"\uff0c\uff1b\uff1a\uff08\uff09\uff01\u3001\u3002“”]")


@dataclass
class _Article:
    """Units of one topic being collected, in groups that should stay together."""

    title: str = ""
    inline: bool = False  # title found inside a snippet line: holds for that line only
    groups: list[list[Unit]] = field(default_factory=list)

    def add(self, unit: Unit, new_group: bool) -> None:
        if new_group or not self.groups:
            self.groups.append([])
        self.groups[-1].append(unit)


@dataclass(frozen=True)
class SplitOptions:
    """Bounds on passage length, in characters of displayed text."""

    max_chars: int = 400
    min_chars: int = 60


def split_page(page: Page, options: SplitOptions | None = None) -> list[Passage]:
    """Split a cleaned page into passages with title, breadcrumb and source offsets."""
    return list(_Splitter(page, options or SplitOptions()).run())


def is_section_label(text: str) -> bool:
    """Tell whether a heading or fragment is a generic section label such as 操作步骤."""
    return text.strip().rstrip(":\uff1a") in SECTION_LABELS


class _Splitter:
    def __init__(self, page: Page, options: SplitOptions) -> None:
        self.page = page
        self.options = options
        self.headings: list[tuple[int, str]] = []  # (level, text) of enclosing headings
        self.article = _Article()
        self.pending: list[Passage] = []  # passages of the open article, awaiting 父主题

    def run(self) -> Iterator[Passage]:
        for block in self.page.blocks:
            text = self.page.block_text(block)
            line = units(self.page.text, block.start, block.end)
            if block.kind == "heading" or _is_heading_line(line, text):
                yield from self._heading(block, text)
            else:
                yield from self._text_block(line)
        yield from self._close_article(parent=None)

    # -- blocks -------------------------------------------------------------------------

    def _heading(self, block: Block, text: str) -> Iterator[Passage]:
        if is_section_label(text):
            unit = Unit(block.start, block.end, text)
            self.article.add(unit, new_group=True)
            return
        level = block.level or 2  # a heading line in plain text ranks below a page title
        if self.article.inline or not self.headings or level <= self.headings[0][0]:
            yield from self._close_article(parent=None)
        else:
            self._flush_passages()
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, squash_space(text)))
        self.article = _Article(title=squash_space(text))

    def _text_block(self, line: Sequence[Unit]) -> Iterator[Passage]:
        if self.article.inline or (
            not self.article.title and self.article.groups and not self._continues(line)
        ):
            # A snippet line's title does not carry over, and without a heading nothing says
            # two lines share a topic: each is its own search result.
            yield from self._close_article(parent=None)
        in_section = bool(self.article.groups) and is_section_label(self.article.groups[-1][0].text)
        new_group = not in_section
        i = 0
        while i < len(line):
            unit = line[i]
            trailer = _TRAILER.match(unit.text)
            if trailer:
                parent = squash_space(trailer["parent"])
                if not parent and i + 1 < len(line) and not line[i + 1].is_sentence:
                    parent = squash_space(line[i + 1].text)
                    i += 1
                yield from self._close_article(parent=parent)
                new_group = True
            elif self._is_inline_title(line, i):
                yield from self._close_article(parent=None)
                title = squash_space(unit.text)
                if i + 1 < len(line) and line[i + 1].text == unit.text:
                    i += 1  # the search result's title followed by the page's own heading
                self.article = _Article(title=title, inline=True)
                new_group = True
            else:
                label = not unit.is_sentence and is_section_label(unit.text)
                self.article.add(unit, new_group=new_group or label)
                new_group = False
            i += 1

    def _continues(self, line: Sequence[Unit]) -> bool:
        """Tell whether a line continues the previous one: a step or list item does."""
        return bool(_LIST_ITEM.match(line[0].text))

    def _is_inline_title(self, line: Sequence[Unit], i: int) -> bool:
        unit = line[i]
        after_sentence = i == 0 or line[i - 1].is_sentence
        nxt = line[i + 1] if i + 1 < len(line) else None
        if unit.is_question:
            return after_sentence and len(unit.text) <= _QUESTION_MAX and nxt is not None
        if unit.is_sentence or len(unit.text) > _TITLE_MAX or _NOT_IN_TITLE.search(unit.text):
            return False
        if is_section_label(unit.text) or nxt is None:
            return False
        if nxt.text == unit.text:
            return True  # doubled: a search result's title, then the page's own heading
        following = line[i + 1 : i + 3]
        return after_sentence and len(following) == 2 and all(u.is_sentence for u in following)

    # -- passages -----------------------------------------------------------------------

    def _size(self) -> int:
        return sum(len(u.text) + 1 for g in self.article.groups for u in g)

    def _flush_passages(self) -> None:
        """Pack the open article's groups into passages and hold them until it closes."""
        for chunk in _pack(self.article.groups, self.options.max_chars):
            self.pending.append(self._passage(self.article.title, chunk))
        self.article = _Article(title=self.article.title, inline=self.article.inline)

    def _close_article(self, parent: str | None) -> Iterator[Passage]:
        self._flush_passages()
        ancestors = [text for _, text in self.headings if text != self.article.title]
        breadcrumb = parent if parent else " > ".join(ancestors)
        for p in self.pending:
            yield Passage(
                id=content_id(p.title, p.text),
                title=p.title,
                breadcrumb=breadcrumb,
                text=p.text,
                sources=p.sources,
            )
        self.pending = []
        if parent is not None:
            self.headings = [h for h in self.headings if h[0] <= 1]
        self.article = _Article()

    def _passage(self, title: str, chunk: Sequence[Unit]) -> Passage:
        parts = [squash_space(chunk[0].text)]
        for prev, unit in pairwise(chunk):
            # Keep the source's spacing: sentences written back to back stay so.
            parts.append(" " if unit.start > prev.end else "")
            parts.append(squash_space(unit.text))
        text = "".join(parts)
        source = Source(self.page.path, chunk[0].start, chunk[-1].end, self.page.url)
        return Passage(id="", title=title, breadcrumb="", text=text, sources=(source,))


def _is_heading_line(line: Sequence[Unit], text: str) -> bool:
    """A short line standing alone, with no sentence punctuation, is a heading."""
    return (
        len(line) == 1
        and not line[0].is_sentence
        and len(text) <= _TITLE_MAX
        and not _NOT_IN_TITLE.search(text)
        and not _TRAILER.match(text)
    )


def _pack(groups: Sequence[Sequence[Unit]], max_chars: int) -> Iterator[list[Unit]]:
    """Pack groups of units into chunks of at most max_chars; split only oversized groups."""
    chunk: list[Unit] = []
    size = 0
    for group in groups:
        group_size = sum(len(u.text) + 1 for u in group)
        if chunk and size + group_size > max_chars:
            yield chunk
            chunk, size = [], 0
        for unit in group:
            if chunk and size + len(unit.text) + 1 > max_chars:
                yield chunk
                chunk, size = [], 0
            chunk.append(unit)
            size += len(unit.text) + 1
    if chunk:
        yield chunk
