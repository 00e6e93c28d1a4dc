"""The domain dictionary (mined from the passages plus a curated list) and the tokenizer.

One tokenizer serves indexing and queries alike, so both sides segment the same way:

- text is NFKC-folded and lower-cased;
- Latin codes with inner separators (``cbc.0100``, ``ak/sk``, ``x-auth-token``) are cut out
  first and kept whole, because jieba splits them at ``/`` and ``-``; their parts follow;
- the rest is segmented by jieba (HMM on) with the domain terms added to its dictionary, so
  ``增值税专用发票`` stays one token; every dictionary term is followed by its parts
  (``增值税`` ``专用发票``) and every long word by its dictionary 2/3-grams, as jieba's search
  mode does, so a query naming a part (``专票``, ``子客户``, ``客户``) still matches;
- white space, punctuation and stop words are dropped.
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING

from ingest.records import Passage
from ingest.text import nfkc

if TYPE_CHECKING:
    import jieba

TERM_MIN = 2
TERM_MAX = 12

# Origins of a term, strongest first: a term found several ways keeps the first.
ORIGINS = ("curated", "title", "breadcrumb", "path", "quote")

# Quoted UI names: “…”, "…", 《…》, 「…」, 『…』.
# Bounded, so an unpaired quote cannot swallow a page.
_QUOTED = re.compile(
    r"“([^“”\n]{1,80})”|\"([^\"\n]{1,80})\"|《([^《》\n]{1,80})》|「([^「」\n]{1,80})」|『([^『』\n]{1,80})』"
)
_PATH_SEP = re.compile(r"\s*[>›»]\s*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Applied to NFKC + lower-cased text, so full-width letters are already ASCII here.
_CODE = re.compile(r"[0-9a-z]+(?:[./_\-][0-9a-z]+)+")
_CODE_PART = re.compile(r"[0-9a-z]+")

_STOP_TEXT = """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 么 嘛 是 在 和 与 及 或 并 而 请 如何 怎么 怎样 怎么样 什么
    哪些 哪个 哪里 为什么 是否 能否 可以 能 会 我 我们 你 您 他 她 它 这 那 这个 那个 该 此 其
    有 也 都 就 把 被 对 从 为 以 之 一下 一个
    a an the and or of to in on at for by with from as into is are was were be been being do
    does did how what which who whom when where why can could should would will shall may might
    i me my we our you your he she it its they them their this that these those there here
    please about"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def is_term(text: str) -> bool:
    """Tell whether text can be a dictionary term: 2-12 letters or digits, not only digits."""
    # jieba never sees a word with a space or punctuation inside: it splits there first.
    return TERM_MIN <= len(text) <= TERM_MAX and text.isalnum() and not text.isdigit()


def curated_terms() -> frozenset[str]:
    """Return the curated domain terms shipped in ingest/data/curated_terms.txt."""
    raw = resources.files("ingest").joinpath("data/curated_terms.txt").read_text("utf-8")
    terms = (nfkc(line.split("#", 1)[0]).strip() for line in raw.splitlines())
    return frozenset(t for t in terms if t)


@functools.cache
def glossary() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Return the English -> Chinese glossary as (phrase pattern, terms), longest first."""
    raw = resources.files("ingest").joinpath("data/glossary_en.txt").read_text("utf-8")
    entries: list[tuple[str, tuple[str, ...]]] = []
    for line in raw.splitlines():
        line = line.split("#", 1)[0].strip()
        if " = " not in line:
            continue
        english, chinese = line.split(" = ", 1)
        terms = tuple(chinese.split())
        entries.extend((variant.strip().lower(), terms) for variant in english.split(";"))
    entries.sort(key=lambda e: -len(e[0]))
    return tuple(
        (re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])"), terms)
        for phrase, terms in entries
        if phrase
    )


def chinese_terms(text: str) -> list[str]:
    """Return the Chinese programme terms named in English in text (longest phrases first)."""
    lowered = nfkc(text).lower()
    found: list[str] = []
    for pattern, terms in glossary():
        if pattern.search(lowered):
            lowered = pattern.sub(" ", lowered)  # a longer phrase claims its words
            found.extend(t for t in terms if t not in found)
    return found


def with_chinese_terms(query: str) -> str:
    """Return the query followed by the Chinese terms its English words name, for lexical use."""
    terms = chinese_terms(query)
    return f"{query} {' '.join(terms)}" if terms else query


def _candidates(passage: Passage) -> Iterator[tuple[str, str]]:
    """Yield (candidate, origin) pairs from one passage, before the term filter."""
    yield nfkc(passage.title).strip(), "title"
    for element in _PATH_SEP.split(nfkc(passage.breadcrumb)):
        yield element.strip(), "breadcrumb"
    for match in _QUOTED.finditer(nfkc(passage.text)):
        quoted = next(g for g in match.groups() if g is not None).strip()
        elements = _PATH_SEP.split(quoted)
        if len(elements) > 1:
            for element in elements:
                yield element.strip(), "path"
        else:
            yield quoted, "quote"


def mine_lexicon(passages: Iterable[Passage]) -> dict[str, str]:
    """Map each term mined from titles, breadcrumbs, quoted names and paths to its origin."""
    rank = {origin: i for i, origin in enumerate(ORIGINS)}
    found: dict[str, str] = {}
    for passage in passages:
        for term, origin in _candidates(passage):
            if is_term(term) and (term not in found or rank[origin] < rank[found[term]]):
                found[term] = origin
    return found


def mine_terms(passages: Iterable[Passage]) -> frozenset[str]:
    """Return the terms mined from the passages (without the curated list)."""
    return frozenset(mine_lexicon(passages))


def build_lexicon(passages: Iterable[Passage]) -> dict[str, str]:
    """Return the whole dictionary, term -> origin: the curated list plus the mined terms."""
    lexicon = mine_lexicon(passages)
    lexicon.update(dict.fromkeys(curated_terms(), "curated"))
    return lexicon


class Tokenizer:
    """Segment text into index/query tokens with jieba and the domain dictionary."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        # Lower-cased like the text; terms jieba cannot hold as one word are left out.
        self._terms = frozenset(t for t in (nfkc(t).strip().lower() for t in terms) if is_term(t))
        self._jieba: jieba.Tokenizer | None = None
        self._parts: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    @property
    def terms(self) -> frozenset[str]:
        """The dictionary terms this tokenizer keeps whole (normalized)."""
        return self._terms

    def tokenize(self, text: str) -> list[str]:
        """Return the tokens of text, in order, for indexing and for queries alike."""
        norm = nfkc(text).lower()
        tokens: list[str] = []
        pos = 0
        for match in _CODE.finditer(norm):
            tokens.extend(self._words(norm[pos : match.start()]))
            tokens.extend(_code_tokens(match.group()))
            pos = match.end()
        tokens.extend(self._words(norm[pos:]))
        return [t for t in tokens if t not in STOP_WORDS]

    def _words(self, chunk: str) -> Iterator[str]:
        """Yield jieba's words of a chunk, each followed by its parts."""
        if not chunk.strip():
            return
        seg = self._segmenter()
        for word in seg.cut(chunk, HMM=True):
            if not any(ch.isalnum() for ch in word):
                continue
            yield word
            yield from self._expand(seg, word)

    def _expand(self, seg: jieba.Tokenizer, word: str) -> Iterator[str]:
        """Yield the parts of a word that a partial query may name, each once."""
        if len(word) <= 2 or not _HAN.search(word):
            return
        seen = {word}
        grams = (word[i : i + n] for n in (2, 3) for i in range(len(word) - n + 1))
        for part in (*self._parts.get(word, ()), *(g for g in grams if seg.FREQ.get(g))):
            if part not in seen:
                seen.add(part)
                yield part

    def _segmenter(self) -> jieba.Tokenizer:
        """Return the jieba tokenizer, loading its dictionary and the terms on first use."""
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    self._jieba = self._load()
        return self._jieba

    def _load(self) -> jieba.Tokenizer:
        import jieba

        seg = jieba.Tokenizer()
        # Loading jieba's dictionary costs ~1 s; do it once per process and give each
        # tokenizer its own copy of the word frequencies (terms are added per lexicon).
        base = _base_dictionary()
        seg.FREQ, seg.total, seg.initialized = dict(base.FREQ), base.total, True
        # Latin runs stay whole in jieba without help: only Han-bearing terms need adding.
        han_terms = sorted(t for t in self._terms if _HAN.search(t))
        for term in han_terms:
            seg.add_word(term)
        # A term's parts are its segmentation by the dictionary without the term itself,
        # so they use the other terms: 华为云合作伙伴共拓计划 -> 华为云 合作伙伴 共拓计划.
        for term in han_terms:
            if len(term) > 2:
                freq = seg.FREQ[term]
                seg.FREQ[term] = 0
                parts = tuple(p for p in seg.cut(term, HMM=True) if len(p) > 1)
                seg.FREQ[term] = freq
                self._parts[term] = parts
        return seg


@functools.cache
def _base_dictionary() -> jieba.Tokenizer:
    """Return jieba's default dictionary, loaded once per process."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.tmp_dir = tempfile.gettempdir()  # the cache must land somewhere writable
    base.initialize()
    return base


def _code_tokens(code: str) -> list[str]:
    """Return a code whole, then its letter/digit parts of two or more characters."""
    parts = _CODE_PART.findall(code)
    if not any(ch.isalpha() for ch in code):
        return [code]  # a number such as 1.5 has no parts worth matching on their own
    return [code, *(p for p in parts if len(p) > 1)]
