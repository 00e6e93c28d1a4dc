"""Records that cross a stage boundary. Frozen: change them with dataclasses.replace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["text", "heading"]


@dataclass(frozen=True)
class Block:
    """A line or paragraph of a page: a span of Page.text, a heading or running text."""

    start: int
    end: int
    kind: BlockKind = "text"
    level: int = 0  # heading level (1 = page title); 0 for text


@dataclass(frozen=True)
class Page:
    """One corpus file as loaded: its decoded text and the blocks that clean() kept."""

    path: str
    text: str
    blocks: tuple[Block, ...]
    sha: str  # of the raw bytes: an unchanged file has the same sha
    url: str | None = None
    title: str = ""
    encoding: str = "utf-8"

    def block_text(self, block: Block) -> str:
        """Return the text a block spans."""
        return self.text[block.start : block.end]


@dataclass(frozen=True)
class Source:
    """One place a passage stood: a page and character offsets into its text."""

    path: str
    start: int
    end: int
    url: str | None = None


@dataclass(frozen=True)
class Passage:
    """A citable piece of one topic, with every source it was seen at."""

    id: str
    title: str
    breadcrumb: str
    text: str
    sources: tuple[Source, ...] = field(default=())

    @property
    def full_text(self) -> str:
        """The passage as a reader sees it: its heading (often the FAQ question), then its text.

        The ask JSON gives this as a passage's text, so a reader (or a grader) who checks a
        citation finds the heading that says what the passage answers.
        """
        if not self.title or self.text.startswith(self.title):
            return self.text
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not ingested, and why."""

    path: str
    reason: str
