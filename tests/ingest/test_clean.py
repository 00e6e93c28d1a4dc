from ingest.clean import clean_pages, is_site_boilerplate
from tests.ingest.pages import text_page

BANNER = "检测到您已登录华为云国际站账号,为了您更好的体验,建议您访问国际站服务网站 https://www.huaweicloud.com/intl/zh-cn"


STEP = "1. 使用合作伙伴账号登录华为云。"


def lines(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.block_text(b) for b in page.blocks]


def test_login_banner_and_dismiss_link_are_dropped() -> None:
    page = text_page(f"{BANNER}\n不再显示此消息\n不完整的核销最多保留45天。\n")
    result = clean_pages([page])
    assert lines(result.pages[0]) == ["不完整的核销最多保留45天。"]
    assert result.dropped == 2


def test_a_line_on_most_pages_is_boilerplate_but_a_repeated_step_is_not() -> None:
    pages = [
        text_page(f"正文{i}:合作伙伴的第{i}个问题。\n{STEP}\n本页面内容由华为云提供\n", f"p{i}.md")
        for i in range(4)
    ]
    result = clean_pages(pages, min_pages=3, share=0.6)
    assert [lines(p) for p in result.pages] == [
        [f"正文{i}:合作伙伴的第{i}个问题。", STEP] for i in range(4)
    ]
    assert result.dropped == 4


def test_repetition_inside_one_page_is_content_not_boilerplate() -> None:
    page = text_page("请申请发放激励。\n请申请发放激励。\n")
    assert lines(clean_pages([page]).pages[0]) == ["请申请发放激励。", "请申请发放激励。"]


def test_offsets_of_kept_blocks_are_unchanged() -> None:
    page = text_page(f"{BANNER}\n不完整的核销最多保留45天。\n")
    (kept,) = clean_pages([page]).pages[0].blocks
    assert page.text[kept.start : kept.end] == "不完整的核销最多保留45天。"


def test_site_boilerplate_patterns() -> None:
    assert is_site_boilerplate("文档是否有帮助?")
    assert is_site_boilerplate("©2026 华为云计算技术有限公司 版权所有")
    assert not is_site_boilerplate("合作伙伴收到华为云的激励开票通知后,需要为激励金额开具发票。")
