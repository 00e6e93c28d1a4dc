from pathlib import Path

from ingest.clean import clean_pages
from ingest.dedupe import dedupe, merge_exact
from ingest.records import Passage, Source
from ingest.split import split_page
from ingest.text import content_id, match_key
from ingest.units import units
from tests.ingest.pages import text_page

SEED = Path(__file__).parents[2] / "corpus" / "000_703c6e61c96b5cdc.txt"
LOGIN = "使用合作伙伴账号登录华为云。 单击页面右上角账号下拉框中的“伙伴中心”,进入伙伴中心。"


def passage(text: str, path: str = "a.txt", start: int = 0, title: str = "") -> Passage:
    return Passage(
        content_id(title, text), title, "", text, (Source(path, start, start + len(text)),)
    )


def seed_result():  # type: ignore[no-untyped-def]
    page = text_page(SEED.read_text(encoding="utf-8"), path="corpus/seed.txt")
    cleaned = clean_pages([page]).pages[0]
    split = split_page(cleaned)
    return page, cleaned, split, dedupe(split, {page.path: page.text})


def test_seed_verbatim_repeats_merge_with_both_provenances() -> None:
    page, _, split, result = seed_result()
    assert (len(split), len(result.passages)) == (22, 18)
    assert result.exact_duplicates == 4
    repeated = [p for p in result.passages if len({s.start for s in p.sources}) > 1]
    starts = {p.text[:8]: sorted(s.start for s in p.sources) for p in repeated}
    assert starts == {
        "如果使用了失效的": [389, 570, 2312],  # its repeat, plus the shared part of the other head
        "请申请发放激励,": [706, 1149],
        "合作伙伴收到华为": [1609, 2484],
        "放方式包括转代金": [1880, 2021],
    }
    for p in result.passages:
        for s in p.sources:
            assert match_key(page.text[s.start : s.end]) in match_key(p.text) or match_key(
                p.text
            ) in match_key(page.text[s.start : s.end])


def test_seed_registration_snippets_keep_both_heads() -> None:
    _, _, _, result = seed_result()
    (pair,) = result.near_pairs
    assert pair.kind == "trimmed"
    texts = [p.text for p in result.passages]
    assert "验证成功后需在24小时内完成新账号注册。" in texts
    whole = next(
        t for t in texts if t.startswith("如果使用了失效的链接进行注册,将不能注册新账号。")
    )
    assert whole.endswith("系统提示您成功入驻华为云合作伙伴体系")
    assert result.near_duplicates == 1


def test_no_sentence_of_the_input_is_lost() -> None:
    page, cleaned, _, result = seed_result()
    kept = " ".join(match_key(p.title + p.text) for p in result.passages)
    for block in cleaned.blocks:
        for unit in units(page.text, block.start, block.end):
            key = match_key(unit.text)
            if unit.text.startswith("父主题"):
                continue
            assert key in kept, unit.text


def test_passages_that_share_only_navigation_boilerplate_are_never_merged() -> None:
    a = passage(f"{LOGIN} 在顶部导航栏中选择“销售 > 拓新 > 线索管理”。", start=0)
    b = passage(f"{LOGIN} 在顶部导航栏中选择“计划 > 合作承诺与协议 > 关系申报”。", start=200)
    c = passage(f"{LOGIN} 在顶部导航栏中选择“组织 > 项目专员”。", start=400)
    d = passage(f"{LOGIN} 在顶部导航栏中选择“销售 > 客户 > 客户管理”。", start=600)
    result = dedupe([a, b, c, d], {})
    assert result.passages == (a, b, c, d)
    assert result.near_pairs == ()


def test_a_truncated_snippet_merges_into_the_whole_one() -> None:
    whole = passage(
        "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。不完整的核销最多保留45天。"
        "一旦超期,需要将预算承担部门投资人或权签人审批的延期情况批复邮件作为附件上交。",
        path="a.txt",
    )
    cut = passage(
        "活动结束之日起,90天内须提交核销,否则华为云有权不予核销。不完整的核销最多保留45天。一旦超期,需要将预算",
        path="b.txt",
        start=7,
    )
    result = dedupe([whole, cut], {})
    assert [p.text for p in result.passages] == [whole.text]
    assert result.passages[0].sources == whole.sources + cut.sources
    assert [(p.kind, p.kept_id) for p in result.near_pairs] == [("merged", whole.id)]


def test_a_different_sentence_in_the_middle_keeps_both_as_variants() -> None:
    head = "华为云新客户: 项目6个月云资源金额,上限30万。"
    tail = "在符合共拓计划HO要求的前提下,根据客户需求,华为云优先给予合作伙伴相关机会点推荐。"
    a = passage(f"{head} 首单商用项目的激励按季度结算。 {tail}", start=0)
    b = passage(f"{head} 持续销售商用项目的激励按月度结算。 {tail}", start=300)
    result = dedupe([a, b], {})
    assert len(result.passages) == 2
    assert [p.kind for p in result.near_pairs] == ["variant"]
    assert result.near_duplicates == 0


def test_exact_duplicates_ignore_punctuation_and_width() -> None:
    a = passage("不完整的核销最多保留45天。", path="a.txt")
    b = passage("不完整的核销最多保留45天", path="b.txt")
    c = passage("不完整的核销最多保留45天。", path="c.txt", title="MDF")
    kept, merged = merge_exact([a, b, c])
    assert merged == 1
    assert kept == [Passage(a.id, "", "", a.text, a.sources + b.sources), c]
