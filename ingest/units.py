"""Cut a block of help-page text into units: sentences and the short fragments between them.

Help pages and their search snippets run sentences, headings and table cells together,
separated only by a space (``敏感关系申报 使用合作伙伴账号登录华为云。``). A unit is the
smallest piece a passage boundary or a citation may fall on: a sentence (ending with
sentence punctuation) or a fragment (a heading, a table cell, a truncated tail).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Sentence ends: CJK ends always; ASCII ones only before white space or the end, so that
# codes such as CBC.0100 and numbers such as 1.5 stay whole.
_CJK_END = "\u3002\uff01\uff1f\uff1b"  # 。!?;
_ASCII_END = ".!?;"
_CLOSERS = "”’」』】\uff09〕》\"')]"
_OPENERS = {
    "“": "”", "‘": "’", "「": "」", "『": "』", "【": "】", "《": "》", "〔": "〕",
    "\uff08": "\uff09", "(": ")", "[": "]",
}  # fmt: skip
# White space next to these joins rather than separates (navigation paths, key: value).
_JOINERS = set(">/|-:,、+\uff1a\uff0c\uff1e")  # and full-width :,>
# "1." or "2)" opening a list item belongs to the item, not a unit of its own.
_LIST_NUMBER = re.compile(r"\d{1,3}[.)\u3001\uff0e]")
_HARD_END = "\u3002\uff01\uff1f!?"  # ends that close any quote a truncated snippet left open
_QUESTION = ("?", "\uff1f")


_EVENTS = re.compile(
    r"\s+|[" + re.escape(_CJK_END + _ASCII_END + _CLOSERS + "".join(_OPENERS) + '"') + "]"
)


@dataclass(frozen=True)
class Unit:
    """A sentence or fragment: offsets into the page text and the text itself."""

    start: int
    end: int
    text: str

    @property
    def is_sentence(self) -> bool:
        """Tell whether the unit ends with sentence punctuation."""
        return _strip_closers(self.text)[-1:] in (_CJK_END + _ASCII_END)

    @property
    def is_question(self) -> bool:
        """Tell whether the unit ends with a question mark."""
        return _strip_closers(self.text).endswith(_QUESTION)


def _strip_closers(text: str) -> str:
    return text.rstrip(_CLOSERS)


def _is_latin(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "._%#@&*")


def units(text: str, start: int = 0, end: int | None = None) -> list[Unit]:
    """Cut text[start:end] into units, keeping exact offsets into text."""
    stop = len(text) if end is None else end
    return [Unit(a, b, text[a:b]) for a, b in _spans(text, start, stop)]


def _spans(text: str, start: int, stop: int) -> Iterator[tuple[int, int]]:
    depth: list[str] = []  # closing characters we are waiting for (quotes, brackets)
    unit_start: int | None = None
    i = start  # everything before i has been accounted for
    # Only white space, brackets, quotes and sentence ends matter; the regex skips the rest.
    for event in _EVENTS.finditer(text, start, stop):
        j = event.start()
        if j < i:
            continue  # a closer already consumed after a sentence end
        if unit_start is None and j > i:
            unit_start = i
        ch = text[j]
        if ch.isspace():
            k = event.end()
            numbered = unit_start is not None and _LIST_NUMBER.fullmatch(text[unit_start:j])
            if (
                unit_start is not None
                and not depth
                and not numbered
                and _separates(text, j - 1, k, stop)
            ):
                yield unit_start, j
                unit_start = None
            i = k
            continue
        if unit_start is None:
            unit_start = j
        if depth and ch == depth[-1]:
            depth.pop()
        elif ch in _OPENERS:
            depth.append(_OPENERS[ch])
        elif ch == '"':
            depth.append('"')
        i = j + 1
        ascii_end = ch in _ASCII_END and (i >= stop or text[i].isspace())
        if ascii_end and ch == "." and text[unit_start : i - 1].isdigit():
            ascii_end = False  # "1. 使用合作伙伴账号登录华为云。": a list number, not a sentence
        if ch in _CJK_END or ascii_end:
            while i < stop and text[i] in _CLOSERS:
                if depth and text[i] == depth[-1]:
                    depth.pop()
                i += 1
            if ch in _HARD_END or not depth:
                depth.clear()  # a sentence end closes whatever a truncated quote left open
                yield unit_start, i
                unit_start = None
    if unit_start is None and i < stop:
        unit_start = i
    if unit_start is not None:
        end = stop
        while end > unit_start and text[end - 1].isspace():
            end -= 1
        if end > unit_start:
            yield unit_start, end


def _separates(text: str, left: int, right: int, stop: int) -> bool:
    """Tell whether the white space between text[left] and text[right] separates two units."""
    if right >= stop:
        return True
    a, b = text[left], text[right]
    if a in _JOINERS or b in _JOINERS:
        return False
    # Latin words and codes are separated by spaces inside one unit (``400 CBC.0100``).
    return not (_is_latin(a) and _is_latin(b))
