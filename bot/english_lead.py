"""A short English lead for an English question whose answer is a duration, a date or an amount.

The pages are Chinese and no model translates here, but a quantity reads the same in any
language once its unit is named: `24小时内` is "within 24 hours", `第二个工作日` "the 2nd
working day", `上限30万` "up to 300,000". When the cited sentence states the kind of answer
the question asks for, the English answer opens with it (cited like the sentence); the
Chinese sentences follow, quoted as they stand.
"""

from __future__ import annotations

import re

from bot.answer_type import AnswerType

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}
_DIGITS |= {"九": 9}
_UNITS = {  # Chinese unit -> English singular, plural
    "工作日": ("working day", "working days"),
    "自然日": ("calendar day", "calendar days"),
    "天": ("day", "days"),
    "日": ("day", "days"),
    "小时": ("hour", "hours"),
    "钟头": ("hour", "hours"),
    "分钟": ("minute", "minutes"),
    "秒": ("second", "seconds"),
    "周": ("week", "weeks"),
    "星期": ("week", "weeks"),
    "个月": ("month", "months"),
    "年": ("year", "years"),
}
_WORDS = {
    "当天": "the same day",
    "当日": "the same day",
    "次日": "the next day",
    "隔日": "the next day",
    "即时": "immediately",
    "实时": "in real time",
    "立即": "immediately",
    "立刻": "immediately",
    "马上": "immediately",
    "当月": "the same month",
    "次月": "the next month",
    "月底": "the end of the month",
    "月末": "the end of the month",
    "月初": "the start of the month",
}
_CN_NUM = "零一二两三四五六七八九十百"
_UNIT_RE = "|".join(sorted(_UNITS, key=len, reverse=True))
_ORDINAL = re.compile(rf"第([{_CN_NUM}\d]+)个?({_UNIT_RE})")
_SPAN = re.compile(
    rf"(?<![\d.])(\d{{1,3}}(?:\.\d+)?|[{_CN_NUM}]+)\s*个?\s*({_UNIT_RE})(内|之内|以内)?"
)
_WORD = re.compile("|".join(_WORDS))
_AMOUNT = re.compile(r"(上限|最多|最高|不超过|至少|最少)?\s*(\d+(?:\.\d+)?)\s*(万|千|%|元)?")
_BOUNDS = {"上限": "up to", "最多": "up to", "最高": "up to", "不超过": "up to"}
_BOUNDS |= {"至少": "at least", "最少": "at least"}


def chinese_number(text: str) -> float | None:
    """Return the value of a number in digits or in simple Chinese numerals (二十四), else None."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return float(total + current)


def _count(value: float, unit: str) -> str:
    singular, plural = _UNITS[unit]
    shown = f"{value:g}"
    return f"{shown} {singular if value == 1 else plural}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def english_quantity(text: str, kind: AnswerType) -> str | None:
    """Return the first quantity of the kind in a Chinese sentence, in English, or None."""
    if kind in ("duration", "moment"):
        spots: list[tuple[int, str]] = []
        for m in _ORDINAL.finditer(text):
            n = chinese_number(m.group(1))
            if n is not None:
                spots.append((m.start(), f"the {_ordinal(int(n))} {_UNITS[m.group(2)][0]}"))
        for m in _SPAN.finditer(text):
            n = chinese_number(m.group(1))
            if n is not None and not any(start <= m.start() < start + 3 for start, _ in spots):
                within = "within " if m.group(3) else ""
                spots.append((m.start(), within + _count(n, m.group(2))))
        for m in _WORD.finditer(text):
            spots.append((m.start(), _WORDS[m.group()]))
        return min(spots)[1] if spots else None
    for m in _AMOUNT.finditer(text):
        bound, number, unit = m.groups()
        if not (bound or unit):
            continue  # a bare number (项目6个月...) is not the amount asked for
        value = float(number)
        if unit == "万":
            shown = f"{value * 10_000:,.0f}"
        elif unit == "千":
            shown = f"{value * 1_000:,.0f}"
        elif unit == "%":
            shown = f"{value:g}%"
        elif unit == "元":
            shown = f"{value:,g} yuan"
        else:
            shown = f"{value:,g}"
        return f"{_BOUNDS[bound]} {shown}" if bound else shown
    return None


def english_lead(text: str, kind: AnswerType) -> str | None:
    """Return "In short: <quantity>." for a sentence that states one of the kind, else None."""
    quantity = english_quantity(text, kind)
    return f"In short: {quantity}." if quantity else None
