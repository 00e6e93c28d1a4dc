"""Golden tests of the domain dictionary and the tokenizer (jieba 0.42.1 is pinned)."""

from __future__ import annotations

import pytest

from ingest.lexicon import (
    STOP_WORDS,
    Tokenizer,
    build_lexicon,
    curated_terms,
    is_term,
    mine_lexicon,
    mine_terms,
)
from ingest.records import Passage


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """One tokenizer for the module: loading jieba's dictionary costs about a second."""
    return Tokenizer(curated_terms() | {"客户管理", "为激励开票"})


# --- the curated list -------------------------------------------------------------------


def test_curated_terms_are_a_small_valid_list() -> None:
    terms = curated_terms()
    assert 30 <= len(terms) <= 60
    assert all(is_term(t) for t in terms)
    assert {"增值税专用发票", "电子专票", "经销商子客户", "代金券", "MDF", "敏感关系申报"} <= terms
    assert not any(t.startswith("#") for t in terms)


@pytest.mark.parametrize("context", ["{}", "请问{}怎么办", "关于{}的说明", "合作伙伴{}申请"])
def test_every_curated_term_stays_one_token_in_context(tokenizer: Tokenizer, context: str) -> None:
    broken = [t for t in curated_terms() if t.lower() not in tokenizer.tokenize(context.format(t))]
    assert broken == []


# --- golden tokenization -----------------------------------------------------------------


def test_invoice_terms_stay_whole_inside_a_sentence(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票")
    assert tokens == [
        "合作伙伴", "合作", "伙伴", "激励", "金额", "开具", "发票", "时", "支持", "开具",
        "增值税专用发票", "增值税", "专用发票", "增值", "专用", "发票",
        "电子专票", "电子", "专票",
    ]  # fmt: skip


def test_a_term_is_followed_by_its_parts(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("经销商子客户") == ["经销商子客户", "经销商", "客户", "经销"]
    assert tokenizer.tokenize("增值税普通发票") == [
        "增值税普通发票", "增值税", "普通发票", "增值", "普通", "发票",
    ]  # fmt: skip


def test_navigation_path_elements_are_tokens(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("在顶部导航栏中选择“销售 > 客户 > 客户管理”")
    assert tokens == ["顶部", "导航", "栏中", "选择", "销售", "客户", "客户管理", "客户", "管理"]


def test_latin_term_next_to_chinese(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("MDF核销有效期多长?") == [
        "mdf",
        "核销",
        "有效期",
        "有效",
        "效期",
        "多长",
    ]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("400 CBC.0100", ["400", "cbc.0100", "cbc", "0100"]),
        ("cbc.0100", ["cbc.0100", "cbc", "0100"]),
        ("ＣＢＣ．０１００", ["cbc.0100", "cbc", "0100"]),  # full-width folds by NFKC
        ("AK/SK", ["ak/sk", "ak", "sk"]),
        ("状态码4xx", ["状态码", "状态", "4xx"]),
        ("HTTP状态码", ["http", "状态码", "状态"]),
        ("X-Auth-Token", ["x-auth-token", "auth", "token"]),
        ("版本1.5", ["版本", "1.5"]),
    ],
)
def test_codes_stay_whole_and_lower_case(
    tokenizer: Tokenizer, text: str, tokens: list[str]
) -> None:
    assert tokenizer.tokenize(text) == tokens


def test_stop_words_and_punctuation_are_dropped(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("如何开具发票?") == ["开具", "发票"]
    assert tokenizer.tokenize("How do I get the AK/SK?") == ["get", "ak/sk", "ak", "sk"]
    assert tokenizer.tokenize(",。!?“”《》 \n\t") == []
    assert tokenizer.tokenize("") == []
    assert not STOP_WORDS & set(tokenizer.tokenize("的了吗呢是在和请如何怎么"))


def test_only_valid_terms_reach_the_dictionary() -> None:
    tok = Tokenizer(["ＭＤＦ", "AK/SK", "伙伴 中心", "代", "400", "伙伴中心"])
    assert tok.terms == frozenset({"mdf", "伙伴中心"})


# --- mining ------------------------------------------------------------------------------

SENSITIVE = Passage(
    id="sensitive",
    title="敏感关系申报",
    breadcrumb="伙伴计划相关操作",
    text="单击页面右上角账号下拉框中的“伙伴中心”,进入伙伴中心。 "
    "在顶部导航栏中选择“计划 > 合作承诺与协议 > 关系申报”。 "
    "申报贵公司与华为员工的敏感关系,单击“确定”。",
)
CUSTOMER = Passage(
    id="customer",
    title="如何确定账号是否为经销商子客户账号?",
    breadcrumb="伙伴中心 > 客户 > 经销商子客户",
    text="客户如何签署《客户关联华为云合作伙伴须知》。 "
    "系统提示“无法进行关联,请联系您的华为云合作伙伴重新提交注册”。 "
    '单击"Export",再选择"高级搜索"。',
)


def test_mine_terms_from_titles_breadcrumbs_quotes_and_paths() -> None:
    # Not mined: the question title and the quoted sentence (punctuation inside), and
    # 《客户关联华为云合作伙伴须知》 (13 characters, over the limit of 12).
    assert mine_terms([SENSITIVE, CUSTOMER]) == {
        "敏感关系申报",  # title
        "伙伴计划相关操作", "伙伴中心", "客户", "经销商子客户",  # breadcrumb elements
        "确定", "Export", "高级搜索",  # quoted UI names
        "计划", "合作承诺与协议", "关系申报",  # path elements
    }  # fmt: skip


def test_mine_lexicon_keeps_the_strongest_origin() -> None:
    lexicon = mine_lexicon([SENSITIVE, CUSTOMER])
    assert lexicon["敏感关系申报"] == "title"
    assert lexicon["伙伴中心"] == "breadcrumb"  # also quoted, but a breadcrumb outranks a quote
    assert lexicon["关系申报"] == "path"
    assert lexicon["确定"] == "quote"


def test_build_lexicon_adds_the_curated_terms() -> None:
    lexicon = build_lexicon([SENSITIVE])
    assert lexicon["敏感关系申报"] == "curated"
    assert lexicon["伙伴计划相关操作"] == "breadcrumb"
    assert set(curated_terms()) <= set(lexicon)


@pytest.mark.parametrize(
    ("text", "ok"),
    [("伙伴中心", True), ("MDF", True), ("代", False), ("400", False), ("AK/SK", False),
     ("伙伴 中心", False), ("一二三四五六七八九十一二", True),
     ("一二三四五六七八九十一二三", False)],
)  # fmt: skip
def test_is_term(text: str, ok: bool) -> None:
    assert is_term(text) is ok


def test_english_programme_terms_map_to_the_chinese_ones() -> None:
    from ingest.lexicon import chinese_terms, with_chinese_terms

    assert chinese_terms("Which invoice types are accepted for incentive payments?") == [
        "激励",
        "发票",
        "开票",
    ]
    # the longer phrase claims its words: no separate "invoice" or "customer" hit
    assert chinese_terms("What about a regular VAT invoice?") == ["增值税普通发票"]
    assert chinese_terms("Is it a reseller sub-customer?") == ["子客户", "经销商"]
    assert chinese_terms("激励开票可以开哪些发票?") == []
    assert chinese_terms("invoicesX and relinked") == []  # whole words only
    # longest phrases first
    assert with_chinese_terms("MDF claim deadline") == "MDF claim deadline 有效期 核销 MDF"
