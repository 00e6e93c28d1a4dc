"""The FTS5 lexical index on real seed passages, in a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.lexical import LexicalIndex, fts_query, load_terms, save_terms
from ingest.lexicon import Tokenizer, build_lexicon
from ingest.records import Passage

INVOICE = Passage(
    id="invoice",
    title="为激励开票",
    breadcrumb="",
    text="合作伙伴收到华为云的激励开票通知后,需要为激励金额开具发票,"
    "并将发票和开票清单邮寄给华为云。 "
    "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。 "
    "操作步骤 根据开票通知邮件中提供的信息,线下开具发票,开票模板如下:",
)
# A near neighbour of the invoice passage: it also speaks of 激励, 开票 and 发票.
APPLY = Passage(
    id="apply",
    title="申请发放激励",
    breadcrumb="",
    text="请申请发放激励,或设置自动申请发放激励。 申请发放激励 申请处理 发票审核 申请处理中 "
    "系统向华为财经提交申付申请后将进入待伙伴开票环节。 无 伙伴开票 发票审核 待伙伴开票 "
    "请于系统提示的日期前完成开票并寄回华为云。华为云收到发票后,第二个工作日将审核发票。"
    "财经审核发票通过将进入申付审核环节。",
)
MDF = Passage(
    id="mdf",
    title="MDF核销有效期多长?",
    breadcrumb="",
    text="自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。 不完整的核销最多保留45天。 "
    "一旦超期,需要将预算承担部门投资人或权签人审批的延期情况批复邮件作为附件上交。 "
    "使用申请需列清费用项,实际核销金额不得超过使用申请预算,超出部分由合作伙伴自行承担。",
)
ERRORS = Passage(
    id="errors",
    title="错误码",
    breadcrumb="",
    text="状态码4xx:由于明显的客户端错误(例如,格式错误的请求语法、参数错误等),华为云会返回4xx错误码,"
    "请及时检查请求消息的正确性,重新发起请求。 "
    "状态码5xx:由于华为云系统原因,导致无法完成明显有效请求的处理,可及时联系华为云客服处理。 "
    "HTTP状态码 错误码 描述 400 CBC.0100",
)
SENSITIVE = Passage(
    id="sensitive",
    title="敏感关系申报",
    breadcrumb="伙伴计划相关操作",
    text="使用合作伙伴账号登录华为云。 单击页面右上角账号下拉框中的“伙伴中心”,进入伙伴中心。 "
    "在顶部导航栏中选择“计划 > 合作承诺与协议 > 关系申报”。 申报贵公司与华为员工的敏感关系,"
    "单击“确定”。 系统提示保存成功。",
)
CUSTOMERS = Passage(
    id="customers",
    title="客户签署关联伙伴须知",
    breadcrumb="",
    text="客户签署最新版本的关联伙伴须知协议后,伙伴方可查看与客户相关的知识推荐。 "
    "客户如何签署《客户关联华为云合作伙伴须知》。 操作步骤 使用合作伙伴账号登录华为云。 "
    "单击页面右上角账号下拉框中的“伙伴中心”,进入伙伴中心。 "
    "在顶部导航栏中选择“销售 > 客户 > 客户管理”。",
)
PASSAGES = (INVOICE, APPLY, MDF, ERRORS, SENSITIVE, CUSTOMERS)

HOSTILE = [
    '"AND OR NEAR( * ^',
    "AND",
    "OR OR OR",
    "NOT 发票",
    'title:发票 "unterminated',
    "发票*",
    "(((发票",
    "^核销",
    "NEAR(核销 发票, 2)",
    "-",
    "''; DROP TABLE lexical_fts; --",
    "\x00",
    "核销" * 500,
    "ⅫⅫ ² ™ 🙂",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """One tokenizer for the module, with the dictionary mined from the test passages."""
    return Tokenizer(build_lexicon(PASSAGES))


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(tmp_path / "helpdesk.sqlite3")
    yield db
    db.close()


@pytest.fixture
def index(conn: sqlite3.Connection, tokenizer: Tokenizer) -> LexicalIndex:
    ix = LexicalIndex(conn, tokenizer)
    ix.upsert(PASSAGES)
    return ix


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [passage_id for passage_id, _ in hits]


def test_count(index: LexicalIndex) -> None:
    assert index.count() == 6


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("激励开票可以开哪些发票", "invoice"),
        ("MDF核销", "mdf"),
        ("CBC.0100", "errors"),
        ("cbc.0100", "errors"),
        ("400 CBC.0100 是什么错误", "errors"),
        ("4xx", "errors"),
        ("专票", "invoice"),
        ("增值税普通发票", "invoice"),
        ("核销", "mdf"),
        ("怎么申报敏感关系", "sensitive"),
        ("关系申报", "sensitive"),
        ("客户管理", "customers"),
        ("申付审核", "apply"),
    ],
)
def test_best_hit(index: LexicalIndex, query: str, best: str) -> None:
    assert ids(index.search(query))[0] == best


def test_scores_are_higher_for_better_hits(index: LexicalIndex) -> None:
    hits = index.search("激励开票可以开哪些发票")
    scores = [score for _, score in hits]
    assert ids(hits)[:2] == ["invoice", "apply"]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


def test_k_limits_the_hits(index: LexicalIndex) -> None:
    assert len(index.search("伙伴", k=2)) == 2
    assert index.search("伙伴", k=0) == []


def test_a_word_nowhere_finds_nothing(index: LexicalIndex) -> None:
    assert index.search("量子计算机") == []


@pytest.mark.parametrize("query", ["", "   ", "?!。,", "的 了 吗", "how do I"])
def test_queries_without_usable_tokens_return_nothing(index: LexicalIndex, query: str) -> None:
    assert index.search(query) == []


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_do_not_raise(index: LexicalIndex, query: str) -> None:
    hits = index.search(query)
    assert isinstance(hits, list)
    assert index.count() == 6


def test_hostile_query_words_still_match(index: LexicalIndex) -> None:
    assert ids(index.search("NEAR(核销 发票, 2)"))[0] == "mdf"


def test_delete_removes(index: LexicalIndex) -> None:
    index.delete(["mdf", "no-such-id"])
    assert index.count() == 5
    assert "mdf" not in ids(index.search("MDF核销"))


def test_upsert_replaces(index: LexicalIndex) -> None:
    index.upsert([replace(MDF, text="代金券额度可以转为现金吗")])
    assert index.count() == 6
    assert ids(index.search("代金券额度"))[0] == "mdf"
    assert index.search("预算承担部门") == []


def test_clear(index: LexicalIndex) -> None:
    index.clear()
    assert index.count() == 0
    assert index.search("发票") == []


def test_the_caller_owns_the_transaction(conn: sqlite3.Connection, index: LexicalIndex) -> None:
    assert conn.in_transaction  # upsert did not commit
    conn.rollback()
    assert index.count() == 0


def test_committed_index_survives_reopening(
    tmp_path: Path, conn: sqlite3.Connection, index: LexicalIndex, tokenizer: Tokenizer
) -> None:
    conn.commit()
    again = sqlite3.connect(tmp_path / "helpdesk.sqlite3")
    try:
        assert ids(LexicalIndex(again, tokenizer).search("MDF核销"))[0] == "mdf"
    finally:
        again.close()


def test_fts_query_quotes_every_token() -> None:
    assert fts_query(['a"b', "核销", "核销", ""]) == '"a""b" OR "核销"'
    assert fts_query([]) == ""


def test_terms_round_trip(conn: sqlite3.Connection) -> None:
    assert load_terms(conn) == {}
    terms = {"伙伴中心": "curated", "客户管理": "path"}
    assert save_terms(conn, terms) is True
    assert save_terms(conn, terms) is False  # unchanged: no re-index needed
    assert load_terms(conn) == terms
    assert save_terms(conn, {"伙伴中心": "curated"}) is True
    assert load_terms(conn) == {"伙伴中心": "curated"}


def test_query_side_tokenizer_from_saved_terms(
    conn: sqlite3.Connection, tokenizer: Tokenizer
) -> None:
    save_terms(conn, build_lexicon(PASSAGES))
    assert Tokenizer(load_terms(conn)).terms == tokenizer.terms
