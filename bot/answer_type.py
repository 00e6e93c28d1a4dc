"""What kind of answer a question expects, and whether a sentence gives one of that kind.

A question that asks "how long" is answered by a duration, "which day" by a date, "how
much" by an amount. When none of the sentences that would answer states anything of the
kind asked, the pages talk about the question's topic without answering it
(增值税普通发票的税率是多少? meets 不能开具增值税普通发票): the assistant refuses rather than
quote the topic back. An exact identifier in the question (an error code such as CBC.0200)
that the pages never contain is the same case: the pages cannot say what it means.

Full-width characters are written as escapes where they matter: editing tools fold them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

AnswerType = Literal["duration", "moment", "amount"]

_NUM = r"(?:\d+(?:\.\d+)?|[零一二两三四五六七八九十百千万半几数]+)"
_SPAN_NUM = r"(?:(?<!\d)\d{1,3}(?:\.\d+)?|[零一二两三四五六七八九十百半几数]+)"  # not a year
_TIME_UNIT = r"(?:个)?\s*(?:工作日|自然日|天|日|小时|钟头|分钟|秒|周|星期|个月|月|年)"
# A span of time: "3个月", not the calendar month "10月".
_SPAN_UNIT = r"(?:(?:个)?\s*(?:工作日|自然日|天|日|小时|钟头|分钟|秒|周|星期|年)|个月)"
_SPAN_WORD = r"当天|当日|次日|隔日|即时|实时|立即|立刻|马上|同时|当月|次月|月底|月初|月末|年底|年初"

_ASKS: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (
        "duration",
        re.compile(
            rf"多久|多长时间|多长|多少{_TIME_UNIT}|几{_TIME_UNIT}|"
            r"\bhow\s+(?:long|soon|quickly|fast)\b|"
            r"\bhow\s+many\s+(?:working\s+|business\s+)?(?:days|hours|weeks|months|years)\b",
            re.I,
        ),
    ),
    (
        # Only a day or an hour: "when" (什么时候, when does) is as often answered by an
        # event (收到发票后, 在系统提示的日期前) as by a date, so it expects nothing.
        "moment",
        re.compile(
            r"几号|几点|哪天|哪一天|\bwhat\s+(?:date|day|time)\b|\bwhich\s+(?:day|date)\b", re.I
        ),
    ),
    (
        "amount",
        re.compile(
            r"多少|\bhow\s+(?:much|many)\b|"
            r"\bwhat(?:'s|\s+is|\s+are)\s+the\s+(?:cap|limit|maximum|minimum|rate|fee|price|cost)\b",
            re.I,
        ),
    ),
)

_DURATION = re.compile(rf"{_SPAN_NUM}\s*{_SPAN_UNIT}|{_SPAN_WORD}")
_MOMENT = re.compile(
    rf"{_NUM}\s*{_TIME_UNIT}|{_SPAN_WORD}|\d{{1,4}}\s*[年月日号]|"
    r"第[一二三四五六七八九十\d]+[个天日周月]|截止|到期"
)
_AMOUNT = re.compile(rf"\d|{_NUM}\s*(?:个|万|千|百|元|%|倍|次|笔|种|项|份|人)|上限|下限|不限|无限")

_STATES: dict[AnswerType, re.Pattern[str]] = {
    "duration": _DURATION,
    "moment": _MOMENT,
    "amount": _AMOUNT,
}

# An identifier: letters and digits joined by . _ / - (cbc.0100, apig.0301), as tokenized.
_IDENTIFIER = re.compile(
    r"(?=[0-9a-z./_\-]*[a-z])(?=[0-9a-z./_\-]*\d)[0-9a-z]+(?:[./_\-][0-9a-z]+)+"
)


def expected_type(question: str) -> AnswerType | None:
    """Return the kind of answer the question asks for, or None when it asks for no quantity."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


def states(text: str, kind: AnswerType) -> bool:
    """Tell whether the text states something of the kind (a duration, a time, an amount)."""
    return bool(_STATES[kind].search(text))


def identifiers(tokens: Iterable[str]) -> list[str]:
    """Return the tokens that are exact identifiers (letters and digits with separators)."""
    return [t for t in dict.fromkeys(tokens) if _IDENTIFIER.fullmatch(t)]
