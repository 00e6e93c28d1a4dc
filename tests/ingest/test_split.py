from pathlib import Path

from ingest.clean import clean_pages
from ingest.split import SplitOptions, split_page
from tests.ingest.pages import text_page

SEED = Path(__file__).parents[2] / "corpus" / "000_703c6e61c96b5cdc.txt"


def seed_passages():  # type: ignore[no-untyped-def]
    page = text_page(SEED.read_text(encoding="utf-8"), path="corpus/seed.txt")
    return page, split_page(clean_pages([page]).pages[0])


def test_seed_splits_into_one_passage_per_topic() -> None:
    _, passages = seed_passages()
    assert len(passages) == 22
    titled = [(p.title, p.breadcrumb) for p in passages if p.title]
    assert titled == [
        ("注册超过7天无法关联合作伙伴?", "经销商子客户"),
        ("为激励开票", ""),
        ("如何确定账号是否为经销商子客户账号?", ""),
        ("为激励开票", ""),
        ("敏感关系申报", "伙伴计划相关操作"),
        ("MDF核销有效期多长?", ""),
        ("搜索线索", ""),
    ]


def test_titles_and_trailers_are_not_passage_text() -> None:
    _, passages = seed_passages()
    for p in passages:
        assert "父主题" not in p.text
    invoice = next(p for p in passages if p.title == "为激励开票")
    assert invoice.text.startswith("合作伙伴收到华为云的激励开票通知后")
    assert "操作步骤 根据开票通知邮件中提供的信息" in invoice.text  # the steps stay with it


def test_a_line_that_starts_with_the_tail_of_another_article_is_cut_at_the_title() -> None:
    _, passages = seed_passages()
    i = next(i for i, p in enumerate(passages) if p.title == "敏感关系申报")
    assert passages[i - 1].text == "单击“操作”列的“下载”,可以下载已签署的协议。"
    assert passages[i - 1].title == "" and passages[i - 1].breadcrumb == ""
    assert passages[i].text.endswith("系统提示保存成功。")


def test_table_cells_between_sentences_are_not_titles() -> None:
    _, passages = seed_passages()
    refund = next(p for p in passages if p.text.startswith("顾问销售切换成代售"))
    assert refund.title == ""
    assert "余额支付 退订款项大约会在1个工作日内退还至华为云账户。" in refund.text


def test_offsets_cover_the_passage_in_the_source() -> None:
    page, passages = seed_passages()
    for p in passages:
        (source,) = p.sources
        raw = page.text[source.start : source.end]
        assert " ".join(raw.split()) == p.text
        assert source.path == "corpus/seed.txt"


def test_markdown_headings_give_title_and_breadcrumb_and_labels_keep_steps() -> None:
    text = (
        "伙伴中心\n为激励开票\n合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。\n"
        "操作步骤\n1. 根据开票通知邮件线下开具发票。\n2. 将发票邮寄给华为云。\n"
        "查询激励\n在激励页面可以查询激励明细和发放状态,按月份筛选。\n"
    )
    page = text_page(text, "a.md", headings={0: 1, 1: 2, 3: 3, 6: 2})
    passages = split_page(page)
    assert [(p.title, p.breadcrumb) for p in passages] == [
        ("为激励开票", "伙伴中心"),
        ("查询激励", "伙伴中心"),
    ]
    assert passages[0].text == (
        "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。 操作步骤"
        " 1. 根据开票通知邮件线下开具发票。 2. 将发票邮寄给华为云。"
    )


def test_parent_topic_trailer_on_its_own_line_closes_the_article() -> None:
    text = "敏感关系申报\n申报贵公司与华为员工的敏感关系,单击“确定”。\n父主题: 伙伴计划相关操作\n"
    (passage,) = split_page(text_page(text))
    assert (passage.title, passage.breadcrumb) == ("敏感关系申报", "伙伴计划相关操作")
    assert passage.text == "申报贵公司与华为员工的敏感关系,单击“确定”。"


def test_long_articles_are_cut_between_sentences_under_the_bound() -> None:
    sentence = "合作伙伴可以根据需要选择激励发放方式,申请发放激励。"
    text = "激励发放\n" + " ".join([sentence] * 12) + "\n"
    passages = split_page(text_page(text), SplitOptions(max_chars=100, min_chars=20))
    assert len(passages) == 4
    for p in passages:
        assert p.title == "激励发放"
        assert len(p.text) <= 100
        assert p.text.endswith("。")


def test_full_width_trailer_and_question_title() -> None:
    q, colon = "\uff1f", "\uff1a"
    text = f"MDF核销有效期多长{q} 自活动结束之日起,90天内须提交核销。 父主题{colon} 市场发展基金\n"
    (passage,) = split_page(text_page(text))
    assert (passage.title, passage.breadcrumb) == (f"MDF核销有效期多长{q}", "市场发展基金")
