from collections import Counter
from pathlib import Path

from bench.synth import make_corpus
from ingest.clean import clean_pages
from ingest.dedupe import dedupe, merge_exact
from ingest.load import load_corpus
from ingest.pipeline import _process
from ingest.records import Passage, Source
from ingest.settings import Settings
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


LOGIN_HEAD, LOGIN_STEP = LOGIN.split(" ")


def page_passages(lines: list[str], path: str = "p.txt") -> tuple[list[Passage], dict[str, str]]:
    """Return one passage per line of a page, and the page text by path."""
    text = "\n".join(lines)
    starts = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    return [passage(line, path, start) for line, start in zip(lines, starts, strict=True)], {
        path: text
    }


def test_heads_trimmed_to_the_same_sentence_become_one_passage_with_every_source() -> None:
    # Two snippets open with the login step; their copies replace it with a longer sentence,
    # so each snippet is trimmed to its head, the login sentence, which also stands alone.
    a_rest = (
        "在顶部导航栏中选择“销售 > 拓新 > 线索管理”。 不完整的核销最多保留45天。 "
        "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。"
    )
    b_rest = (
        "在顶部导航栏中选择“组织 > 项目专员”。 验证成功后需在24小时内完成新账号注册。 "
        "注册新账号时,请更换其他手机号进行操作,若使用已注册的手机号进行注册将注册失败。"
    )
    lines = [
        LOGIN_HEAD,
        f"{LOGIN_HEAD} {LOGIN_STEP} {a_rest}",
        f"合作伙伴收到华为云发放的激励后可以申请提现。 {LOGIN_STEP} {a_rest}",
        f"{LOGIN_HEAD} {LOGIN_STEP} {b_rest}",
        f"客户签署最新版本的关联伙伴须知协议后方可查看。 {LOGIN_STEP} {b_rest}",
    ]
    split, texts = page_passages(lines)
    result = dedupe(split, texts)
    assert [p.kind for p in result.near_pairs] == ["trimmed", "trimmed"]
    heads = [p for p in result.passages if p.text == LOGIN_HEAD]
    assert len(heads) == 1
    head = split[0].sources[0]
    assert heads[0].sources == (
        head,
        Source("p.txt", split[1].sources[0].start, split[1].sources[0].start + len(LOGIN_HEAD)),
        Source("p.txt", split[3].sources[0].start, split[3].sources[0].start + len(LOGIN_HEAD)),
    )
    assert [p.text for p in result.passages] == [LOGIN_HEAD, lines[2], lines[4]]
    assert len({p.id for p in result.passages}) == len(result.passages)
    assert {p.kept_id for p in result.near_pairs} <= {p.id for p in result.passages}
    assert result.exact_duplicates == 2  # the two trimmed heads, merged into the lone one


def test_a_trim_that_leaves_only_punctuation_merges_instead() -> None:
    shared = "自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。 不完整的核销最多保留45天。"
    whole = passage(f"{shared} 一旦超期,需要将延期情况批复邮件作为附件上交。", path="a.txt")
    cut = passage(f"{shared} 。", path="b.txt")  # all it has of its own is a lone full stop
    result = dedupe([whole, cut], {})
    assert [p.text for p in result.passages] == [whole.text]
    assert result.passages[0].sources == whole.sources + cut.sources
    assert [(p.kind, p.kept_id) for p in result.near_pairs] == [("merged", whole.id)]


def test_synthetic_corpus_with_duplicates_keeps_ids_unique(tmp_path: Path) -> None:
    make_corpus(tmp_path / "corpus", 1000)  # 20% injected exact and near duplicates
    pages = load_corpus([tmp_path / "corpus"]).pages
    split, result, _ = _process(pages, Settings(), lambda stage, done, total: None)
    ids = Counter(p.id for p in result.passages)
    assert [i for i, n in ids.items() if n > 1] == []
    assert all(match_key(p.text) for p in result.passages)
    assert {p.kept_id for p in result.near_pairs} <= set(ids)
    # Every line still starts a source of some passage: no place a passage stood is lost.
    kept = {(s.path, s.start) for p in result.passages for s in p.sources}
    assert {(s.path, s.start) for p in split for s in p.sources} <= kept
    assert (len(split), len(result.passages)) == (1000, 838)
