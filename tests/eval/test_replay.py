"""Replay and aggregation on hand-made cases and replies: exact values, by group."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.records import Turn
from eval.faqset import FaqCase
from eval.replay import (
    CaseResult,
    Quote,
    ReplayError,
    Reply,
    Retrieved,
    by_group,
    replay,
    reply_from_json,
    score_case,
    summary,
)

INVOICE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"
MDF = "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。不完整的核销最多保留45天。"
LEADS = "单击“高级搜索”,伙伴可以根据华为云账号、公司名称、邮箱、客户类型等查询线索。"


def case(
    cid: str,
    lang: str = "zh",
    answerable: bool = True,
    gold: Sequence[str] = ("增值税专用发票和电子专票",),
    facts: Sequence[Sequence[str]] = (("电子专票",),),
    turns: Sequence[str] = ("激励发票能开哪几种?",),
) -> FaqCase:
    return FaqCase(
        id=cid,
        question=turns[-1],
        lang=lang,  # type: ignore[arg-type]
        answerable=answerable,
        gold=tuple(gold) if answerable else (),
        facts=tuple(tuple(f) for f in facts) if answerable else (),
        turns=tuple(turns),
    )


def hit(text: str) -> Retrieved:
    return Retrieved(passage_id=text[:4], title="", text=text, score=1.0)


def reply(
    text: str, hits: Sequence[str], quotes: Sequence[tuple[str, str]] = (), refused: bool = False
) -> Reply:
    citations = tuple(Quote(n, p[:4], q, p, "") for n, (q, p) in enumerate(quotes, 1))
    return Reply(text, refused, citations, tuple(hit(h) for h in hits), "q")


def results() -> list[CaseResult]:
    """Five cases: zh right at rank 1, zh wrong at rank 2, en missed, refused OOS, answered OOS."""
    return [
        score_case(
            case("zh-ok"),
            reply("支持电子专票[1]", [INVOICE, MDF], [("增值税专用发票和电子专票", INVOICE)]),
            0.010,
        ),
        score_case(
            case("zh-bad", turns=("MDF核销有效期多长?", "那发票呢?")),
            reply("90天[1]", [MDF, INVOICE], [("90天内须提交核销", MDF)]),
            0.020,
        ),
        score_case(case("en-miss", lang="en"), reply("Sorry.", [], refused=True), 0.030),
        score_case(
            case("oos-ok", answerable=False, turns=("云硬盘怎么扩容?",)),
            reply("抱歉", [LEADS], refused=True),
            0.040,
        ),
        score_case(
            case("oos-bad", lang="en", answerable=False, turns=("Reset my password?",)),
            reply("单击高级搜索[1]", [LEADS], [("单击“高级搜索”", LEADS)]),
            0.050,
        ),
    ]


def test_each_case_gets_a_mark_per_metric() -> None:
    marks = {r.case.id: r.checks for r in results()}
    assert marks["zh-ok"] == {
        "hit1": True, "hit5": True, "facts": True, "citations": True, "refusal": True
    }  # fmt: skip
    assert marks["zh-bad"] == {
        "hit1": False, "hit5": True, "facts": False, "citations": False, "refusal": True
    }  # fmt: skip
    # no gold passage retrieved, an answerable case refused, no citations at all
    assert marks["en-miss"] == {
        "hit1": False, "hit5": False, "facts": False, "citations": None, "refusal": False
    }  # fmt: skip
    assert marks["oos-ok"] == {
        "hit1": None, "hit5": None, "facts": None, "citations": None, "refusal": True
    }  # fmt: skip
    assert marks["oos-bad"]["citations"] is False and marks["oos-bad"]["refusal"] is False
    assert [r.passed for r in results()] == [True, False, False, True, False]


def test_summary_over_all_cases() -> None:
    scores = summary(results())
    assert scores["cases"] == 5 and scores["answerable"] == 3
    assert scores["hit1"] == pytest.approx(1 / 3)
    assert scores["hit5"] == pytest.approx(2 / 3)
    assert scores["mrr10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores["fact_coverage"] == pytest.approx(1 / 3)
    assert scores["citation_precision"] == pytest.approx(1 / 3)  # 3 citations, 1 relevant
    assert scores["citation_quote_in_passage"] == 1.0
    assert scores["refusal_precision"] == 0.5  # 2 refusals, 1 on an unanswerable case
    assert scores["refusal_recall"] == 0.5
    assert scores["false_refusal_rate"] == pytest.approx(1 / 3)
    assert scores["follow_up_hit5"] == 1.0
    assert scores["median_zh_answer_chars"] == 7.5  # "支持电子专票[1]" (9) and "90天[1]" (6)
    assert scores["latency_p50_ms"] == pytest.approx(30.0)
    assert scores["latency_p95_ms"] == pytest.approx(48.0)


def test_metrics_by_language_and_turns() -> None:
    groups = by_group(results())
    assert list(groups) == ["all", "zh", "en", "single", "multi"]
    assert [groups[g]["cases"] for g in groups] == [5, 3, 2, 4, 1]
    zh, en, single, multi = groups["zh"], groups["en"], groups["single"], groups["multi"]
    assert (zh["hit1"], zh["fact_coverage"], zh["refusal_recall"]) == (0.5, 0.5, 1.0)
    assert (zh["refusal_precision"], zh["false_refusal_rate"]) == (1.0, 0.0)
    assert (en["hit5"], en["false_refusal_rate"], en["refusal_recall"]) == (0.0, 1.0, 0.0)
    assert en["refusal_precision"] == 0.0
    assert en["median_zh_answer_chars"] is None
    assert (multi["hit1"], multi["hit5"], multi["mrr10"]) == (0.0, 1.0, 0.5)
    assert multi["refusal_recall"] is None  # no unanswerable follow-up in the group
    assert single["follow_up_hit5"] is None
    assert single["hit1"] == 0.5


def test_an_empty_group_reads_none_not_zero() -> None:
    scores = by_group([r for r in results() if r.case.lang == "zh"])["en"]
    assert scores["cases"] == 0
    assert scores["hit1"] is None and scores["latency_p50_ms"] is None


def test_follow_ups_send_earlier_turns_and_answers_as_history() -> None:
    asked: list[tuple[str, list[Turn]]] = []

    def ask(question: str, history: Sequence[Turn]) -> Reply:
        asked.append((question, list(history)))
        return reply(f"答:{question}", [INVOICE])

    fu = case("fu", turns=("第一问", "第二问", "第三问"))
    [result] = replay([fu], ask)
    assert [q for q, _ in asked] == ["第一问", "第二问", "第三问"]
    assert asked[2][1] == [
        Turn("user", "第一问"),
        Turn("assistant", "答:第一问"),
        Turn("user", "第二问"),
        Turn("assistant", "答:第二问"),
    ]
    assert result.reply.text == "答:第三问" and result.rank == 1


def test_reply_from_the_ask_json() -> None:
    data = {
        "answer": "支持电子专票[1]",
        "refused": False,
        "citations": [
            {"n": 1, "passage_id": "p1", "quote": "电子专票", "text": INVOICE, "title": "开票"}
        ],
        "hits": [{"passage_id": "p1", "score": 0.5, "title": "开票", "text": INVOICE}],
        "query": "激励发票",
    }
    parsed = reply_from_json(data)
    assert parsed.citations == (Quote(1, "p1", "电子专票", INVOICE, "开票"),)
    assert parsed.hits == (Retrieved("p1", "开票", INVOICE, 0.5),)
    del data["hits"]
    with pytest.raises(ReplayError, match="not the ask JSON"):
        reply_from_json(data)
