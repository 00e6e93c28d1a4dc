"""Metric functions on hand-made cases, with exact values."""

from __future__ import annotations

import pytest

from eval.metrics import (
    RefusalScores,
    citation_ok,
    citation_precision,
    contains,
    fact_coverage,
    facts_stated,
    first_relevant_rank,
    hit_at_k,
    is_relevant,
    mrr_at_k,
    percentile,
    refusal_scores,
    share,
    states_all_facts,
)

INVOICE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"
MDF = "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。不完整的核销最多保留45天。"
LEADS = "单击“高级搜索”,伙伴可以根据华为云账号、公司名称、邮箱、客户类型等查询线索。"
GOLD = ["增值税专用发票和电子专票"]


def test_relevant_when_any_gold_phrase_stands_in_the_passage() -> None:
    assert is_relevant(INVOICE, ["没有这句", "不能开具增值税普通发票"]) is True
    assert is_relevant(MDF, GOLD) is False


def test_normalization_ignores_width_punctuation_spaces_and_case() -> None:
    assert is_relevant(LEADS, ["华为云账号,公司名称,邮箱"]) is True  # half-width commas
    assert is_relevant(LEADS, ["单击 高级搜索"]) is True  # quotes dropped, space ignored
    assert is_relevant("错误码 400 CBC.0100", ["ｃｂｃ０１００"]) is True  # full-width
    assert is_relevant("状态码5xx:由于华为云系统原因", ["状态码 5XX"]) is True
    assert contains(MDF, "90 天内须提交核销!") is True


def test_gold_that_normalizes_to_nothing_matches_nothing() -> None:
    assert is_relevant(INVOICE, ["。,", " "]) is False
    assert is_relevant(INVOICE, []) is False
    assert contains(INVOICE, "“”") is False


def test_first_relevant_rank_is_one_based() -> None:
    assert first_relevant_rank([MDF, LEADS, INVOICE, INVOICE], GOLD) == 3
    assert first_relevant_rank([INVOICE], GOLD) == 1


def test_first_relevant_rank_is_none_when_no_gold_passage_is_retrieved() -> None:
    assert first_relevant_rank([MDF, LEADS], GOLD) is None
    assert first_relevant_rank([], GOLD) is None


def test_hit_at_k() -> None:
    ranks = [1, 3, None, 6]
    assert hit_at_k(ranks, 1) == 0.25
    assert hit_at_k(ranks, 5) == 0.5
    assert hit_at_k(ranks, 6) == 0.75
    assert hit_at_k([None, None], 5) == 0.0


def test_mrr_at_k_counts_ranks_beyond_k_and_none_as_zero() -> None:
    assert mrr_at_k([1, 2, None, 4]) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert mrr_at_k([1, 2, 11], k=10) == pytest.approx(0.5)
    assert mrr_at_k([4], k=3) == 0.0


def test_rank_metrics_of_no_cases_are_none() -> None:
    assert hit_at_k([], 1) is None
    assert mrr_at_k([]) is None


@pytest.mark.parametrize("k", [0, -1])
def test_k_must_be_positive(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        hit_at_k([1], k)
    with pytest.raises(ValueError, match="k must be at least 1"):
        mrr_at_k([1], k)


def test_facts_need_one_alternative_each() -> None:
    answer = "激励发票支持开具增值税专用发票和电子专票 [1]。"
    assert facts_stated(answer, [["专票", "增值税专用发票"], ["电子专票"], ["普通发票"]]) == [
        True,
        True,
        False,
    ]
    assert states_all_facts(answer, [["增值税专用发票"], ["电子 专票"]]) is True
    assert states_all_facts(answer, [["增值税专用发票"], ["纸质发票"]]) is False
    assert states_all_facts(answer, []) is True


def test_fact_with_only_blank_alternatives_is_not_stated() -> None:
    assert states_all_facts("任何回答", [["。"]]) is False


def test_refused_answerable_case_states_no_facts() -> None:
    refusal = "抱歉,帮助文档中没有找到这个问题的答案。"
    assert fact_coverage([refusal, "不完整的核销最多保留45天 [1]"], [[["45天"]], [["45天"]]]) == 0.5


def test_fact_coverage_edges() -> None:
    assert fact_coverage([], []) is None
    with pytest.raises(ValueError, match="1 answers but 2 fact lists"):
        fact_coverage(["a"], [[], []])


def test_citation_ok_needs_quote_in_passage_and_passage_relevant() -> None:
    quote = "支持开具增值税专用发票和电子专票"
    assert citation_ok(quote, INVOICE, GOLD) is True
    assert citation_ok("支持开具增值税普通发票", INVOICE, GOLD) is False  # not in passage
    assert citation_ok("90天内须提交核销", MDF, GOLD) is False  # passage not relevant
    assert citation_ok("", INVOICE, GOLD) is False  # empty quote quotes nothing


def test_citation_precision() -> None:
    citations = [
        ("支持开具增值税专用发票和电子专票。", INVOICE),
        ("不能开具 增值税普通发票", INVOICE),
        ("90天内须提交核销", MDF),
        ("编造的一句话", INVOICE),
    ]
    assert citation_precision(citations, GOLD) == 0.5
    assert citation_precision(citations, []) == 0.0


def test_citation_precision_without_citations_is_none() -> None:
    assert citation_precision([], GOLD) is None


def test_refusal_scores() -> None:
    refused = [True, True, False, True, False, False]
    answerable = [False, True, False, False, True, True]
    # refusals: 3, of which 2 on unanswerable; unanswerable: 3, refused 2; answerable: 3, refused 1
    assert refusal_scores(refused, answerable) == RefusalScores(
        precision=2 / 3, recall=2 / 3, false_refusal_rate=1 / 3
    )


def test_refusal_scores_undefined_parts_are_none() -> None:
    assert refusal_scores([False, False], [True, True]) == RefusalScores(None, None, 0.0)
    assert refusal_scores([True], [False]) == RefusalScores(1.0, 1.0, None)
    assert refusal_scores([], []) == RefusalScores(None, None, None)
    with pytest.raises(ValueError, match="2 refusal flags but 1 answerable flags"):
        refusal_scores([True, False], [True])


def test_percentile_interpolates_linearly() -> None:
    latencies = [40.0, 10.0, 30.0, 20.0]
    assert percentile(latencies, 50) == 25.0
    assert percentile(latencies, 95) == pytest.approx(38.5)
    assert percentile(latencies, 0) == 10.0
    assert percentile(latencies, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_q_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match=r"q must be within 0\.\.100"):
        percentile([1.0], q)


def test_share() -> None:
    assert share([True, False, False, True]) == 0.5
    assert share([]) is None
