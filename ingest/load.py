"""Load stage: read corpus files (.txt, .md, .html) into Pages of decoded text and blocks."""

from __future__ import annotations

import codecs
import re
import stat
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import PageElement, PreformattedString

from ingest.errors import CorpusError, UnreadableFileError
from ingest.records import Block, BlockKind, Page, Skipped
from ingest.text import bytes_sha, squash_space

_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}

# UTF-32-LE's BOM begins with UTF-16-LE's, so it is tried first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Big5 bytes are mostly valid GB18030 but land in its private-use area; real text never does.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")  # not \t \n \v \f \r or ESC
_MAX_CONTROL_SHARE = 0.05

_ATX_OPEN = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FRONT_KEY = re.compile(r"(title|url)\s*:\s*(.*?)\s*$")

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = {
    *_HEADINGS, "address", "article", "blockquote", "body", "br", "caption", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "hr", "html", "legend",
    "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
    "tr", "ul",
}  # fmt: skip
_NEVER_TEXT = {"head", "title", "script", "style", "noscript", "template", "iframe", "svg"}
_CHROME_TAGS = {"nav", "header", "footer", "aside", "form"}
# Pages hang layout classes (has-sidebar, nav-open) on these; they are never chrome.
_CONTAINERS = {"html", "body", "main", "article"}
_LAYOUT_WORDS = {
    "breadcrumb", "breadcrumbs", "crumbs", "nav", "navbar", "navigation", "topnav", "sidenav",
    "subnav", "menu", "menubar", "sidebar", "footer", "header",
}  # fmt: skip
_WRAPPER_WORDS = {"wrap", "wrapper", "container", "inner", "outer", "box", "area", "bar", "list"}
_STATE_WORDS = {"has", "with", "without", "no", "is", "show", "hide", "toggle"}


@dataclass(frozen=True)
class LoadResult:
    """The pages that loaded and the files that were skipped, in corpus order."""

    pages: tuple[Page, ...]
    skipped: tuple[Skipped, ...]


def load_corpus(paths: Sequence[Path]) -> LoadResult:
    """Load every supported file under the given files/directories (recursively, sorted)."""
    pages: list[Page] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for given in map(Path, paths):
        if not given.exists() and not given.is_symlink():
            raise CorpusError(f"corpus path {given.as_posix()} does not exist")
        for path in _walk(given, skipped, set()):
            if path.as_posix() in seen:
                continue
            seen.add(path.as_posix())
            try:
                pages.append(load_file(path))
            except UnreadableFileError as exc:
                skipped.append(Skipped(exc.path, exc.reason))
    return LoadResult(tuple(pages), tuple(skipped))


def load_file(path: Path) -> Page:
    """Load one file; raise UnreadableFileError(path, reason) when it cannot be used."""
    shown = path.as_posix()
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UnreadableFileError(shown, f"unsupported file type {path.suffix or '(none)'}")
    raw = _read(path, shown)
    if not raw.strip():
        raise UnreadableFileError(shown, "empty file")
    has_bom = any(raw.startswith(bom) for bom, _ in _BOMS)
    if b"\x00" in raw and not has_bom:  # UTF-16/32 text is full of NULs, but carries a BOM
        raise UnreadableFileError(shown, "binary file")
    try:
        text, encoding = _decode(raw, _declared_charset(raw) if fmt == "html" else None)
    except ValueError as exc:
        raise UnreadableFileError(shown, f"cannot decode: {exc}") from exc
    if len(_CONTROL.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        raise UnreadableFileError(shown, "binary file")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UnreadableFileError(shown, "empty file")
    title, url = "", None
    if fmt == "txt":
        lines = (_strip(text, start, end) for start, end in _lines(text, 0, len(text)))
        blocks = [Block(*span) for span in lines if span]
    elif fmt == "md":
        blocks, title, url = _markdown(text)
    else:
        text, blocks, title, url = _html(text)
    if not blocks:
        raise UnreadableFileError(shown, "no text content")
    return Page(shown, text, tuple(blocks), bytes_sha(raw), url=url, title=title, encoding=encoding)


def _walk(path: Path, skipped: list[Skipped], visited: set[Path]) -> Iterator[Path]:
    """Yield the files under path in sorted order, leaving out hidden names."""
    if not path.is_dir():
        yield path
        return
    real = path.resolve()
    if real in visited:  # a symlink loop would recurse forever
        return
    visited.add(real)
    try:
        children = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        skipped.append(Skipped(path.as_posix(), exc.strerror or str(exc)))
        return
    for child in children:
        if not child.name.startswith("."):
            yield from _walk(child, skipped, visited)


def _read(path: Path, shown: str) -> bytes:
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # reading a FIFO or device would block or never end
            reason = "is a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise UnreadableFileError(shown, reason)
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(shown, exc.strerror or str(exc)) from exc


def _declared_charset(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:4096])
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    # Sites label GBK text gb2312; GB18030 is a superset of both.
    return "gb18030" if name in {"gb2312", "gbk"} else name


def _decode(raw: bytes, declared: str | None) -> tuple[str, str]:
    """Return the text and the encoding name; raise ValueError when nothing fits."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(name), name
            except UnicodeDecodeError as exc:
                raise ValueError(f"invalid {name} after its byte-order mark") from exc
    # Strict trials before guessing: charset-normalizer misreads short GBK text (cp949 ...).
    for name in dict.fromkeys(["utf-8", *([declared] if declared else []), "gb18030"]):
        try:
            text = raw.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name != "gb18030" or not _PRIVATE_USE.search(text):
            return text, name
    from charset_normalizer import from_bytes

    # Unrestricted, it names exotic code pages (cp1006 for café); these are what remains likely.
    best = from_bytes(raw, cp_isolation=["big5", "cp1252"]).best()
    if best is None:
        raise ValueError("not UTF-8, GB18030, Big5 or Windows-1252 text")
    return str(best), best.encoding


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield the span of every line of text[start:end], without its newline."""
    pos = start
    for line in text[start:end].split("\n"):
        yield pos, pos + len(line)
        pos += len(line) + 1


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    chunk = text[start:end]
    left = start + len(chunk) - len(chunk.lstrip())
    right = start + len(chunk.rstrip())
    return (left, right) if left < right else None


def _markdown(text: str) -> tuple[list[Block], str, str | None]:
    meta, pos = _front_matter(text)
    blocks: list[Block] = []
    title = meta.get("title", "")
    fence = ""  # the opening marker of the code fence we are in
    for start, end in _lines(text, pos, len(text)):
        line, span = text[start:end], _strip(text, start, end)
        if span is None:
            continue
        opening = _FENCE.match(line)
        if fence:  # code lines stay text, even when they start with "#"
            bare = line.strip()
            if bare.startswith(fence) and not bare.strip(fence[0]):
                fence = ""
        elif opening:
            fence = opening.group(1)
        elif heading := _ATX_OPEN.match(line):
            rest = line[heading.end() :]
            closing = _ATX_CLOSE.search(rest)
            cut = start + heading.end() + (closing.start() if closing else len(rest))
            level = len(heading.group(1))
            if span := _strip(text, start + heading.end(), cut):
                blocks.append(Block(*span, kind="heading", level=level))
                title = title or (text[span[0] : span[1]] if level == 1 else "")
            continue
        blocks.append(Block(*span))
    return blocks, title, meta.get("url") or None


def _front_matter(text: str) -> tuple[dict[str, str], int]:
    """Return title/url of a leading YAML front matter and where the body starts."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, 0
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            meta = {}
            for entry in lines[1:i]:
                if match := _FRONT_KEY.match(entry):
                    meta[match.group(1)] = match.group(2).strip("\"'")
            return meta, min(len(text), sum(len(x) + 1 for x in lines[: i + 1]))
    return {}, 0  # no closing line: a thematic break, not front matter


class _Builder:
    """Accumulate extracted blocks, joined by newlines, with their spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.blocks: list[Block] = []
        self.pending: list[str] = []
        self.prefix = ""  # a list number waiting for the item's first text
        self.size = 0

    def flush(self, kind: BlockKind, level: int) -> None:
        text = squash_space("".join(self.pending))
        self.pending.clear()
        if not text:
            return
        text, self.prefix = self.prefix + text, ""
        start = self.size + 1 if self.parts else 0
        self.parts.append(text)
        self.size = start + len(text)
        self.blocks.append(Block(start, self.size, kind, level))


def _html(markup: str) -> tuple[str, list[Block], str, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    out = _Builder()
    levels: list[int] = []  # open headings, innermost last
    counters: list[int | None] = []  # open lists, innermost last: next number, None for <ul>
    in_pre = 0
    stack: list[tuple[PageElement, bool]] = [(soup, False)]
    while stack:
        node, leaving = stack.pop()
        kind: BlockKind = "heading" if levels else "text"
        level = levels[-1] if levels else 0
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):  # comments, doctype, CDATA
                continue
            lines = str(node).split("\n") if in_pre else [str(node)]
            for i, line in enumerate(lines):
                if i:  # a preformatted line break ends a block
                    out.flush(kind, level)
                out.pending.append(line)
        elif isinstance(node, Tag) and leaving:
            if node.name in _BLOCK_TAGS:
                out.flush(kind, level)
            if node.name in _HEADINGS:
                levels = levels[:-1]
            elif node.name == "pre":
                in_pre -= 1
            elif node.name in ("ol", "ul"):
                counters.pop()
            elif node.name == "li":
                out.prefix = ""  # an item without text must not number the next block
        elif isinstance(node, Tag) and not _is_chrome(node):
            if node.name in _BLOCK_TAGS:
                out.flush(kind, level)
            if node.name in ("td", "th"):
                out.pending.append(" ")
            if node.name in _HEADINGS:
                levels = [*levels, _HEADINGS[node.name]]
            if node.name in ("ol", "ul"):
                counters.append(_list_start(node) if node.name == "ol" else None)
            # Unclosed <li>s nest in each other, yet all count in the list that holds them.
            if node.name == "li" and counters and (number := counters[-1]) is not None:
                out.prefix, counters[-1] = f"{number}. ", number + 1
            if node.name == "pre":
                in_pre += 1
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    text = "\n".join(out.parts)
    first_h1 = next((b for b in out.blocks if b.kind == "heading" and b.level == 1), None)
    title_tag = next((t for t in soup.find_all("title") if not t.find_parent("svg")), None)
    title = squash_space(title_tag.get_text()) if title_tag else ""
    if not title and first_h1:
        title = text[first_h1.start : first_h1.end]
    return text, out.blocks, title, _canonical_url(soup)


def _list_start(ol: Tag) -> int:
    start = str(ol.get("start") or "").strip()
    return int(start) if start.isdigit() else 1


def _is_chrome(tag: Tag) -> bool:
    """Tell whether an element is site chrome (navigation, header, footer ...), not content."""
    if tag.name in _NEVER_TEXT:
        return True
    if tag.name in _CONTAINERS:
        return False
    marks = {tag.name} & _CHROME_TAGS
    for name in [*tag.get_attribute_list("class"), str(tag.get("id") or "")]:
        marks.update(_layout_word(str(name)))
    if not marks:
        return False
    # An article's own header/footer holds its title and dates; a block holding the h1 is content.
    if marks <= {"header", "footer"} and tag.find_parent(["article", "main"]) is not None:
        return False
    return tag.find(["h1", "main", "article"]) is None


def _layout_word(name: str) -> set[str]:
    """Return the layout word a class or id names ("page-header" -> header; "has-sidebar" none)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    while words and words[-1] in _WRAPPER_WORDS:
        words.pop()
    if not words or words[-1] not in _LAYOUT_WORDS:
        return set()
    if len(words) > 1 and words[-2] in _STATE_WORDS:
        return set()
    return {words[-1]}


def _canonical_url(soup: BeautifulSoup) -> str | None:
    link = soup.find("link", rel="canonical")
    meta = soup.find("meta", attrs={"property": "og:url"})
    for tag, attr in ((link, "href"), (meta, "content")):
        if isinstance(tag, Tag) and (value := str(tag.get(attr) or "").strip()):
            return value
    return None
