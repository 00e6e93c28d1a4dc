"""Rule-based follow-up rewriting: turn an elliptical question into a standalone query.

A follow-up (``那普通发票可以吗?``, ``5xx呢?``, ``what about a regular VAT invoice?``) leans on
the earlier user turns; retrieval needs the topic spelled out. The signals are language-level,
not per-question: a leading discourse marker before a short phrase, a bare ``X呢``, anaphora
(``这个``, ``那些``, ``it``/``those`` as subject), or a question with no content word of its
own (``多久审核?``). The rewrite joins the latest standalone user turn (rewritten itself when
it was a follow-up) with the follow-up's content, markers and particles stripped.

Pure regular expressions, no jieba: a call costs microseconds, so it needs no shared state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.records import Turn
from ingest.lexicon import STOP_WORDS
from ingest.text import nfkc

MAX_CHARS = 200
SHORT_CJK = 12  # a marker before at most this many characters opens an elliptical phrase
SHORT_WORDS = 8  # the same for English, in words

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{_CJK}]")
_LATIN_WORD = re.compile(r"[0-9a-z]+(?:['.\-][0-9a-z]+)*")
# Full-width forms spelled as escapes: editors fold typed ones to ASCII. NFKC folds most of
# them anyway, but the ideographic ones (。、…) survive it.
_PUNCT = "\\s?!.,;:~\"'()\\[\\]\u3002\u3001\u2026\uff1f\uff01\uff0c\uff1a\uff1b\uff08\uff09"
_EDGE = re.compile(f"^[{_PUNCT}]+|[{_PUNCT}]+$")
# Not 么: it ends 为什么 and 怎么.
_PARTICLES = re.compile(f"[呢吗吧啊呀嘛{_PUNCT}]+$")

# Leading discourse markers, longest first; bare 那 must not eat 那个/那些/那种 (anaphora).
_ZH_MARKER = (
    r"那如果是|那如果|那要是|那假如|那万一|如果是|如果|要是|假如|万一|那么|那(?![个些种样里儿边])"
    r"|还有|另外|此外|然后|至于"
)
_EN_MARKER = r"and what about|what about|how about|and if|and for|same for|what if|and also|and"
_MARKER = re.compile(f"^(?:{_ZH_MARKER}|(?:{_EN_MARKER})\\b)[{_PUNCT}]*", re.IGNORECASE)
# Only stripped from the follow-up part: they open standalone questions too.
_SOFT_MARKER = re.compile(f"^(?:also|then|so|but|ok|okay)\\b[{_PUNCT}]*", re.IGNORECASE)

_ZH_WH = re.compile(r"什么|怎么|怎样|如何|多久|多长|多少|多大|几|哪|为什么|为何|谁")
_EN_WH = re.compile(r"\b(?:what|how|which|when|where|why|who|whom|whose)\b")
_ZH_ANAPHORA = re.compile(
    r"它们?|这个|那个|这些|那些|这种|那种|这样|上面|上述|刚才|刚刚|之前说的|前面说的"
)
# English pronouns as the subject (first word, or after an auxiliary) or as the last word.
_EN_ANAPHORA = re.compile(
    r"^(?:it|that|those|these|they|this|them)\b"
    r"|\b(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|must|may)"
    r"\s+(?:it|that|those|these|they|this)\b"
    r"|\b(?:it|them|those|these|they)$"
)
# Dummy "it" (``how long does it take to review an invoice``) refers to nothing earlier.
_DUMMY_IT = re.compile(
    r"\bit\s+(?=takes?\s+(?:\w+\s+)?to\b|is\s+(?:possible|necessary|required|ok|okay)\s+to\b)"
)
# Words that carry no topic: question words, modals, particles, pronouns, time words and
# verbs that need an object. A question made only of them leans on the conversation.
_ZH_GENERIC_TEXT = """
    什么 怎么 怎样 怎么样 如何 多久 多长 多少 几天 几个 几种 几 哪里 哪儿 哪些 哪个 哪 为什么
    为何 是否 能否 可否 可不可以 能不能 是不是 有没有 要不要 可以 能够 需要 应该 必须 一般 大概
    通常 还 也 都 就 再 又 吗 呢 吧 啊 呀 么 嘛 的 地 得 了 着 过 是 在 有 没有 会 能 要 我 我们
    你 您 他们 它 它们 时间 期限 时候 之后 以后 然后 之前 以前 流程 步骤 办法 方法 怎么办 办 做
    弄 操作 处理 办理 审核 审批 申请 提交 查看 查询 看 找 设置 修改 取消 开通 使用 支持 进行
    完成 一下 一个 请问 这 那 该 此 其 和 与 及 或 并 而 请 把 被 对 从 为 以 之 到 给"""
_EN_GENERIC_TEXT = """
    do does get take takes long much many need work happen then after before also still so ok
    okay one ones else other more time if not too same again anything something case now just
    only yes no thanks apply submit cancel review approve check find view see change set use
    open handle process go"""
# Longest first, so 怎么办 goes before 怎么 and 办.
_ZH_GENERIC = re.compile("|".join(sorted(set(_ZH_GENERIC_TEXT.split()), key=len, reverse=True)))
_EN_GENERIC = STOP_WORDS | frozenset(_EN_GENERIC_TEXT.split())


def _content_units(text: str) -> int:
    """Count the content of text: Han characters plus two per content word in Latin letters."""
    rest = _ZH_GENERIC.sub(" ", text)
    han = len(_HAN.findall(rest))
    words = [w for w in _LATIN_WORD.findall(rest) if len(w) > 1 and w not in _EN_GENERIC]
    return han + 2 * len(words)


def _is_short(text: str) -> bool:
    """Tell whether text is a short phrase rather than a whole question."""
    if _HAN.search(text):
        return len(text) <= SHORT_CJK
    return len(text.split()) <= SHORT_WORDS


def _has_wh(text: str) -> bool:
    """Tell whether text asks its own wh-question (yes/no forms do not count)."""
    return bool(_ZH_WH.search(text) or _EN_WH.search(text))


def is_follow_up(question: str) -> bool:
    """Tell whether a question leans on earlier turns (elliptical) rather than standing alone."""
    q = _EDGE.sub("", nfkc(question).lower())
    if not q:
        return False
    marker = _MARKER.match(q)
    if marker:
        rest = _PARTICLES.sub("", q[marker.end() :])
        # "那普通发票可以吗" asks about the earlier topic; "那么如何申请代金券…" asks its own.
        if _content_units(rest) < 2 or (not _has_wh(rest) and _is_short(rest)):
            return True
    # A bare "X呢" with no question word of its own: "不完整的呢?", "5xx呢?".
    if q.endswith("呢") and not _has_wh(q):
        return True
    if _ZH_ANAPHORA.search(q) or _EN_ANAPHORA.search(_DUMMY_IT.sub("", q)):
        return True
    return _content_units(q) < 2


def _clean(text: str) -> str:
    """Return text NFKC-folded, single-spaced, without edge punctuation."""
    return _EDGE.sub("", " ".join(nfkc(text).split()))


def _own_part(question: str) -> str:
    """Return what a follow-up adds: its words without leading markers or final particles."""
    part = _clean(question)
    for _ in range(3):  # markers stack: "那如果是…", "and also what about…"
        stripped = _SOFT_MARKER.sub("", _MARKER.sub("", part))
        if stripped == part:
            break
        part = stripped
    return _PARTICLES.sub("", part).strip()


def _combine(topic: str, part: str) -> str:
    """Join the topic and the follow-up's part, cutting the topic's tail to fit MAX_CHARS."""
    if not part:
        return topic[:MAX_CHARS]
    if len(part) >= MAX_CHARS - 1:
        return part[:MAX_CHARS]
    room = MAX_CHARS - len(part) - 1
    # The topic's head names the subject; the follow-up is what is asked now: keep both.
    return f"{topic[:room].rstrip()} {part}" if topic else part


def rewrite(question: str, history: Sequence[Turn]) -> str:
    """Return a standalone query for the question, using the earlier user turns.

    A self-contained question (or no history) comes back unchanged.
    """
    if not is_follow_up(question):
        return question
    context = ""
    for turn in history:
        if turn.role != "user" or not turn.content.strip():
            continue  # assistant turns are answers, not what the partner asked about
        if context and is_follow_up(turn.content):
            context = _combine(context, _own_part(turn.content))
        else:
            context = _clean(turn.content)[:MAX_CHARS]
    if not context:
        return question
    return _combine(context, _own_part(question))
