"""Tests of the load stage: encodings, rejected files, corpus walking, txt/md/html blocks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.errors import CorpusError, UnreadableFileError
from ingest.load import LoadResult, load_corpus, load_file
from ingest.records import Block, Page, Skipped
from ingest.text import bytes_sha

SEED = Path(__file__).resolve().parents[2] / "corpus" / "000_703c6e61c96b5cdc.txt"
INVOICE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票。"


def checked(page: Page) -> Page:
    """Assert the offset contract on a page and return it."""
    previous_end = 0
    for block in page.blocks:
        text = page.block_text(block)
        assert previous_end <= block.start < block.end <= len(page.text)
        assert text == text.strip() and text
        assert (block.kind == "heading") == (block.level > 0)
        previous_end = block.end
    return page


def load(path: Path) -> Page:
    return checked(load_file(path))


def texts(page: Page) -> list[str]:
    return [page.block_text(b) for b in page.blocks]


def write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def reason(path: Path) -> str:
    with pytest.raises(UnreadableFileError) as caught:
        load_file(path)
    assert caught.value.path == path.as_posix()
    return caught.value.reason


# --- encodings -------------------------------------------------------------------------


def test_utf8_text_file_gives_one_block_per_non_blank_line(tmp_path: Path) -> None:
    raw = "  为激励开票 \n\n\t代金券\t\n   \n最后一行".encode()
    page = load(write(tmp_path / "a.txt", raw))
    assert page.encoding == "utf-8"
    assert page.text == "  为激励开票 \n\n\t代金券\t\n   \n最后一行"
    assert page.blocks == (Block(2, 7), Block(11, 14), Block(20, 24))
    assert texts(page) == ["为激励开票", "代金券", "最后一行"]
    assert page.sha == bytes_sha(raw)
    assert page.path == (tmp_path / "a.txt").as_posix()
    assert (page.title, page.url) == ("", None)


def test_utf8_bom_is_stripped_and_recorded(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + "为激励开票\n".encode()
    page = load(write(tmp_path / "bom.txt", raw))
    assert page.text == "为激励开票\n"
    assert page.encoding == "utf-8-sig"
    assert page.sha == bytes_sha(raw)


def test_gbk_file_decodes(tmp_path: Path) -> None:
    text = f"{INVOICE}\n如何确定账号是否为经销商子客户账号?\n"
    page = load(write(tmp_path / "gbk.txt", text, "gbk"))
    assert page.text == text
    assert page.encoding == "gb18030"
    assert texts(page) == [INVOICE, "如何确定账号是否为经销商子客户账号?"]


# charset-normalizer reads each of these as cp949 or UTF-16 when GBK-encoded.
@pytest.mark.parametrize("text", ["为激励开票", "代金券", "MDF核销有效期多长?"])
def test_short_gbk_text_decodes(tmp_path: Path, text: str) -> None:
    page = load(write(tmp_path / "short.txt", text, "gbk"))
    assert (page.text, page.encoding) == (text, "gb18030")


def test_gb18030_characters_outside_gbk(tmp_path: Path) -> None:
    text = "生僻字㐀与表情😀都能读出"
    page = load(write(tmp_path / "gb.txt", text, "gb18030"))
    assert (page.text, page.encoding) == (text, "gb18030")


@pytest.mark.parametrize(
    ("codec", "encoding"), [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")]
)
def test_utf16_with_bom(tmp_path: Path, codec: str, encoding: str) -> None:
    page = load(write(tmp_path / "u16.txt", "\ufeff代金券\r\n为激励开票", codec))
    assert (page.text, page.encoding) == ("代金券\n为激励开票", encoding)
    assert texts(page) == ["代金券", "为激励开票"]


def test_big5_is_not_misread_as_gb18030(tmp_path: Path) -> None:
    text = "合作夥伴為激勵金額開具發票時,支援開具增值稅專用發票。"
    page = load(write(tmp_path / "big5.txt", text, "big5"))
    assert (page.text, page.encoding) == (text, "big5")


def test_html_meta_charset_gbk(tmp_path: Path) -> None:
    html = f'<html><head><meta charset="gbk"></head><body><p>{INVOICE}</p></body></html>'
    page = load(write(tmp_path / "gbk.html", html, "gbk"))
    assert (texts(page), page.encoding) == ([INVOICE], "gb18030")


def test_line_endings_become_newlines(tmp_path: Path) -> None:
    page = load(write(tmp_path / "crlf.txt", b"one\r\ntwo\rthree\n"))
    assert page.text == "one\ntwo\nthree\n"
    assert texts(page) == ["one", "two", "three"]


# --- rejected files --------------------------------------------------------------------


def test_binary_file_with_nul_bytes(tmp_path: Path) -> None:
    assert (
        reason(write(tmp_path / "x.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")) == "binary file"
    )


def test_binary_file_of_control_characters(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "x.txt", bytes(range(1, 9)) * 4 + b"abc")) == "binary file"


@pytest.mark.parametrize("raw", [b"", b" \n\t\r\n", b"\xef\xbb\xbf", "\u3000\n".encode()])
def test_empty_file(tmp_path: Path, raw: bytes) -> None:
    assert reason(write(tmp_path / "e.txt", raw)) == "empty file"


def test_undecodable_bytes(tmp_path: Path) -> None:
    raw = "开票说明".encode() + b"\xff\xff\x80"
    assert reason(write(tmp_path / "bad.txt", raw)) == (
        "cannot decode: not UTF-8, GB18030, Big5 or Windows-1252 text"
    )


def test_broken_symlink_is_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "missing.txt")
    assert reason(link) == "No such file or directory"


def test_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert reason(fifo) == "not a regular file"  # reading it would block forever


def test_directory_given_to_load_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").mkdir()
    assert reason(tmp_path / "x.txt") == "is a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_permissions(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", "代金券")
    path.chmod(0)
    assert reason(path) == "Permission denied"


def test_unsupported_extension(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "a.pdf", b"%PDF-1.4")) == "unsupported file type .pdf"
    assert reason(write(tmp_path / "README", b"x")) == "unsupported file type (none)"


def test_html_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "s.html", "<html><script>var a = 1;</script><nav>菜单</nav></html>")
    assert reason(path) == "no text content"


# --- the corpus walk -------------------------------------------------------------------


def test_corpus_directory_loads_good_files_and_skips_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(Path("corpus/b.md"), "# 代金券\n")
    write(Path("corpus/a.txt"), "为激励开票")
    write(Path("corpus/sub/c.html"), "<p>伙伴中心</p>")
    write(Path("corpus/bad.txt"), b"\x00\x01\x02")
    write(Path("corpus/manual.pdf"), b"%PDF-1.4")
    write(Path("corpus/.hidden.txt"), "隐藏")
    write(Path("corpus/.git/config.txt"), "隐藏")
    result = load_corpus([Path("corpus")])
    assert isinstance(result, LoadResult)
    assert [p.path for p in result.pages] == ["corpus/a.txt", "corpus/b.md", "corpus/sub/c.html"]
    assert result.skipped == (
        Skipped("corpus/bad.txt", "binary file"),
        Skipped("corpus/manual.pdf", "unsupported file type .pdf"),
    )
    for page in result.pages:
        checked(page)


def test_corpus_accepts_files_and_loads_each_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "为激励开票")
    result = load_corpus([path, tmp_path])
    assert [p.path for p in result.pages] == [path.as_posix()]
    assert result.skipped == ()


def test_corpus_survives_a_symlink_loop(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "为激励开票")
    (tmp_path / "loop").symlink_to(tmp_path)
    assert [p.path for p in load_corpus([tmp_path]).pages] == [(tmp_path / "a.txt").as_posix()]


def test_missing_corpus_path_is_a_corpus_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError, match=f"corpus path {missing.as_posix()} does not exist"):
        load_corpus([missing])


def test_seed_file() -> None:
    page = load(SEED)
    # The seed file has 22 lines, none blank.
    assert len(page.blocks) == 22
    assert {b.kind for b in page.blocks} == {"text"}
    assert page.encoding == "utf-8"
    assert page.block_text(page.blocks[0]).startswith("检测到您已登录华为云国际站账号,")
    assert page.block_text(page.blocks[1]) == "不再显示此消息"


# --- markdown --------------------------------------------------------------------------

MARKDOWN = """---
title: "为激励开票"
url: https://support.example.com/invoice
tags: [发票]
---
# 开票流程 #

合作伙伴收到激励开票通知后,需要开具发票。
## C#
###   步骤   ###
#hashtag 不是标题
```bash
# 这是代码注释
```
####### 七个井号是正文
"""


def test_markdown_blocks_and_front_matter(tmp_path: Path) -> None:
    page = load(write(tmp_path / "m.md", MARKDOWN))
    assert (page.title, page.url) == ("为激励开票", "https://support.example.com/invoice")
    assert page.text == MARKDOWN
    assert [(page.block_text(b), b.kind, b.level) for b in page.blocks] == [
        ("开票流程", "heading", 1),
        ("合作伙伴收到激励开票通知后,需要开具发票。", "text", 0),
        ("C#", "heading", 2),
        ("步骤", "heading", 3),
        ("#hashtag 不是标题", "text", 0),
        ("```bash", "text", 0),
        ("# 这是代码注释", "text", 0),
        ("```", "text", 0),
        ("####### 七个井号是正文", "text", 0),
    ]


def test_markdown_title_from_first_h1(tmp_path: Path) -> None:
    page = load(write(tmp_path / "m.markdown", "## 概述\n# 代金券\n# 其他\n---\n正文\n"))
    assert (page.title, page.url) == ("代金券", None)
    assert texts(page) == ["概述", "代金券", "其他", "---", "正文"]


# --- html ------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title> 为激励开票 - 伙伴中心 </title>
<link rel="canonical" href=" https://support.example.com/invoice ">
<style>p { color: red }</style><script>var x = "<p>脚本</p>";</script></head>
<body class="has-sidebar nav-open">
<header class="site-header">华为云 登录</header>
<nav>首页 产品</nav>
<div class="breadcrumb">首页 &gt; 伙伴中心</div>
<div id="sidebar">侧栏菜单</div>
<ul class="nav-menu"><li>菜单项</li></ul>
<article id="header-article">
  <header><h2>文章标题</h2></header>
  <h1>为激励  <b>开票</b></h1>
  <!-- a comment -->
  <p>合作伙伴   收到<a href="#">激励开票通知</a>后,
     需要开具发票。</p>
  <ol><li><p>登录伙伴中心。</p></li><li>单击<b>“开票”</b>。</li></ol>
  <table><caption>错误码</caption><tr><th>码</th><th>描述</th></tr>
  <tr><td>400</td><td>CBC.0100</td></tr></table>
  <p>第一行<br>第二行</p>
  <p>&lt;img src=x onerror=alert(1)&gt; &amp; 空格&nbsp;保留</p>
</article>
<aside>相关文档</aside><form><input> 搜索</form>
<footer>版权所有</footer>
</body></html>
"""


def test_html_page(tmp_path: Path) -> None:
    page = load(write(tmp_path / "p.html", PAGE))
    assert page.title == "为激励开票 - 伙伴中心"
    assert page.url == "https://support.example.com/invoice"
    assert [(page.block_text(b), b.kind, b.level) for b in page.blocks] == [
        ("文章标题", "heading", 2),
        ("为激励 开票", "heading", 1),
        ("合作伙伴 收到激励开票通知后, 需要开具发票。", "text", 0),
        ("1. 登录伙伴中心。", "text", 0),
        ("2. 单击“开票”。", "text", 0),
        ("错误码", "text", 0),
        ("码 描述", "text", 0),
        ("400 CBC.0100", "text", 0),
        ("第一行", "text", 0),
        ("第二行", "text", 0),
        ("<img src=x onerror=alert(1)> & 空格 保留", "text", 0),
    ]
    assert page.text == "\n".join(texts(page))


def test_html_broken_markup_still_loads(tmp_path: Path) -> None:
    html = '<div><p>第一段<p>第二段<ol start="3"><li>登录<li>单击<b>开票</ol><div>尾部'
    page = load(write(tmp_path / "broken.htm", html))
    assert texts(page) == ["第一段", "第二段", "3. 登录", "4. 单击开票", "尾部"]
    assert (page.title, page.url) == ("", None)


def test_html_title_falls_back_to_h1_and_og_url(tmp_path: Path) -> None:
    html = (
        '<meta property="og:url" content="https://example.com/voucher">'
        "<h1>代金券</h1><pre>line 1\n  line 2</pre>"
    )
    page = load(write(tmp_path / "t.html", html))
    assert (page.title, page.url) == ("代金券", "https://example.com/voucher")
    assert texts(page) == ["代金券", "line 1", "line 2"]


@pytest.mark.parametrize(
    ("html", "kept"),
    [
        ('<div class="page-header"><h1>代金券</h1></div><p>正文</p>', ["代金券", "正文"]),
        ("<header><h1>代金券</h1><a>登录</a></header><p>正文</p>", ["代金券", "登录", "正文"]),
        ('<div class="with-sidebar"><p>正文</p></div>', ["正文"]),
        ('<div class="sidebar-open subheader"><p>正文</p></div>', ["正文"]),
        ('<div id="headerless-layout"><p>正文</p></div>', ["正文"]),
        ('<main class="menu"><p>正文</p></main>', ["正文"]),
        ('<div class="breadcrumb-wrapper">首页</div><p>正文</p>', ["正文"]),
        ('<div id="footer">版权</div><div class="top-nav">链接</div><p>正文</p>', ["正文"]),
        (
            "<main><footer>更新于 2024-01-01</footer></main><footer>版权</footer>",
            ["更新于 2024-01-01"],
        ),
    ],
)
def test_html_chrome_rules_are_conservative(tmp_path: Path, html: str, kept: list[str]) -> None:
    assert texts(load(write(tmp_path / "c.html", html))) == kept


def test_html_nested_lists_number_their_own_items(tmp_path: Path) -> None:
    html = (
        "<svg><title>图标</title></svg>"
        "<ol><li>登录<ol start=5><li>甲<li>乙</ol><li>开票</ol><ul><li>提示</ul>"
    )
    page = load(write(tmp_path / "l.html", html))
    assert texts(page) == ["1. 登录", "5. 甲", "6. 乙", "2. 开票", "提示"]
    assert page.title == ""  # an icon's <title> is not the page's
