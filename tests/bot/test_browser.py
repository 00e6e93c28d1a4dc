"""The web widget, the demo page and the agents' console in a real browser (Debian's chromium).

A real `helpdesk serve` runs over the seed index; the partner page embedding the widget lives
on another origin (page.route answers it), so CORS is exercised as on a real partner site.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.browser import CHROMIUM, CHROMIUM_ARGS, PartnerSite, host_page
from tests.servers import ADMIN_TOKEN, HelpdeskServer, http_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install -y chromium fonts-wqy-microhei",
    ),
]

WIDGET = "[data-helpdesk-widget]"  # the widget's host element; CSS selectors pierce its shadow
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
XSS = "<img src=x onerror=alert(1)>"
XSS_TITLE = "<b onmouseover=alert(3)>标题里的标签</b>"


def shot(page: Any, name: str, tmp_path: Path) -> None:
    """Save a screenshot to tmp_path; also to docs/screenshots when UPDATE_SCREENSHOTS=1."""
    page.screenshot(path=str(tmp_path / name))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / name, SCREENSHOTS / name)


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def partner() -> Iterator[PartnerSite]:
    site = PartnerSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def server(
    seed_index: Any, partner: PartnerSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelpdeskServer]:
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    with HelpdeskServer(seed_index.data_dir, seed_index.corpus, log, partner.origin) as srv:
        yield srv


@pytest.fixture(scope="module")
def xss_server(
    bundled_embedder: Any, partner: PartnerSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelpdeskServer]:
    """Serve a tiny corpus whose text, title and source URL are hostile markup."""
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    root = tmp_path_factory.mktemp("xss")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "xss.txt").write_text(
        "危险字符的显示规则\n\n"
        f"帮助文档里可能出现一段HTML代码,例如 {XSS} 这样的图片标签。"
        "助手和控制台必须把这段代码作为普通文字原样显示,浏览器不能执行其中的脚本。\n",
        encoding="utf-8",
    )
    (corpus / "title.md").write_text(
        f"---\ntitle: {XSS_TITLE}\nurl: javascript:alert(2)\n---\n# {XSS_TITLE}\n\n"
        "页面标题里的标签同样只能作为文字显示。来源链接如果不是网页地址,"
        "例如以javascript开头的地址,就不能做成可以点击的链接。\n",
        encoding="utf-8",
    )
    settings = Settings(data_dir=root / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=bundled_embedder)
    with HelpdeskServer(settings.data_dir, corpus, root / "serve.log", partner.origin) as srv:
        yield srv


class Visit:
    """One browser context and page, recording requests, dialogs and page errors."""

    def __init__(
        self, browser: Any, server: HelpdeskServer, partner: PartnerSite, **context_options: Any
    ) -> None:
        self.server = server
        self.partner = partner
        self.context = browser.new_context(locale="zh-CN", **context_options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open_partner_page(self, lang: str = "zh") -> Any:
        """Open a partner page on another origin that embeds the widget; return the page."""
        path = f"/{self.server.port}/{lang}.html"  # one page per API server and language
        self.partner.pages[path] = host_page(self.server.url, lang)
        self.page.goto(self.partner.origin + path)
        self.page.locator(f"{WIDGET} .launcher").wait_for()
        return self.page

    def foreign_requests(self) -> list[str]:
        """Return requests that went anywhere but the API server and the partner site."""
        own = (self.server.url + "/", self.partner.origin + "/")
        return [u for u in self.requests if not u.startswith(own) and not u.startswith("data:")]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, server: HelpdeskServer, partner: PartnerSite) -> Iterator[Visit]:
    v = Visit(browser, server, partner, viewport={"width": 1280, "height": 860})
    yield v
    v.close()


def ask_widget(page: Any, question: str, timeout: float = 30_000) -> Any:
    """Type a question into the open widget, send it, and return the finished answer bubble."""
    asked = page.locator(f"{WIDGET} .msg.user").count()
    page.locator(f"{WIDGET} textarea").fill(question)
    page.locator(f"{WIDGET} .send").click()
    page.wait_for_function(
        """([sel, n]) => {
            const root = document.querySelector(sel).shadowRoot;
            return root.querySelectorAll('.msg.user').length === n
                && !root.querySelector('.streaming') && !root.querySelector('.log[aria-busy]');
        }""",
        arg=[WIDGET, asked + 1],
        timeout=timeout,
    )
    return page.locator(f"{WIDGET} .msg.bot").last


def sse_frames(body: str) -> list[tuple[str, str]]:
    """Split a HelpdeskServer-Sent Events body into (event, data) pairs."""
    frames = []
    for block in re.split(r"\r?\n\r?\n", body):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            frames.append((event, "\n".join(data)))
    return frames


# ---- the widget --------------------------------------------------------------------------


def test_widget_streams_a_cited_answer_and_stores_feedback(
    visit: Visit, server: HelpdeskServer
) -> None:
    page = visit.open_partner_page()
    # Record every text the answer bubble shows while it streams, before the verified answer.
    page.locator(f"{WIDGET} .launcher").click()
    page.evaluate(
        """sel => {
            window.__streamed = [];
            const log = document.querySelector(sel).shadowRoot.querySelector('.log');
            new MutationObserver(records => {
                for (const r of records) for (const n of r.addedNodes)
                    if (n.nodeType === 3 && r.target.classList.contains('bot'))
                        window.__streamed.push(n.textContent);
            }).observe(log, {childList: true, subtree: true});
        }""",
        WIDGET,
    )
    with page.expect_response("**/api/chat/stream") as streamed:
        bubble = ask_widget(page, "激励开票可以开哪些发票?")
    response = streamed.value
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(response.text())
    events = [e for e, _ in frames]
    assert "delta" in events and events[-2:] == ["answer", "done"], events
    answer = json.loads(next(d for e, d in frames if e == "answer"))
    deltas = "".join(json.loads(d)["text"] for e, d in frames if e == "delta")
    assert deltas.strip(), "no text was streamed"
    shown_while_streaming = page.evaluate("window.__streamed")
    assert any(t and t in deltas for t in shown_while_streaming), shown_while_streaming

    text = bubble.inner_text()
    assert "增值税专用发票" in text and "[1]" in text
    assert not answer["refused"] and answer["id"]
    cite = bubble.locator(".cite").first
    assert cite.get_attribute("aria-expanded") == "false"
    note = bubble.locator('.note[data-n="1"]')
    assert not note.is_visible()
    cite.click()
    assert cite.get_attribute("aria-expanded") == "true"
    assert note.is_visible()
    assert note.locator(".note-title").inner_text() == "[1] 为激励开票"
    quote = answer["citations"][0]["quote"]
    assert note.locator("blockquote").inner_text() == quote
    assert note.locator("a").count() == 0  # the seed's source has no URL: a path, no link
    assert answer["citations"][0]["source"]["path"] in note.inner_text()

    # The site's CSS does not reach in (40px fonts, hidden buttons), and the widget leaves the
    # site alone.
    style = page.evaluate(
        """sel => {
            const root = document.querySelector(sel).shadowRoot;
            const cs = (q) => getComputedStyle(root.querySelector(q));
            return {send: cs('.send').display, font: cs('textarea').fontSize,
                    body: cs('.log').fontSize, width: root.querySelector('textarea').offsetWidth,
                    panel: cs('.panel').display, hiddenNote: cs('.note:not(.x)[hidden]').display,
                    site: getComputedStyle(document.getElementById('site-button')).display,
                    siteFont: getComputedStyle(document.getElementById('site-text')).fontSize};
        }""",
        WIDGET,
    )
    assert style == {
        "send": "block",  # a flex item (the site says none)
        "font": "16px",
        "body": "14px",
        "width": style["width"],
        "panel": "flex",
        "hiddenNote": "none",
        "site": "none",
        "siteFont": "40px",
    }
    assert style["width"] > 150

    bubble.locator(".rate .up").click()
    assert bubble.locator(".rate").inner_text() == "谢谢您的反馈!"
    status, stored = http_json("GET", server.url + "/api/admin/feedback", token=ADMIN_TOKEN)
    assert status == 200
    rows = stored["feedback"] if isinstance(stored, dict) else stored
    mine = [r for r in rows if r["answer_id"] == answer["id"]]
    assert len(mine) == 1
    assert mine[0]["rating"] == "up"
    assert mine[0]["question"] == "激励开票可以开哪些发票?"
    assert visit.foreign_requests() == []
    assert visit.errors == [] and visit.dialogs == []


def test_widget_follow_up_uses_the_history_and_survives_a_reload(visit: Visit) -> None:
    page = visit.open_partner_page()
    page.locator(f"{WIDGET} .launcher").click()
    first = ask_widget(page, "MDF核销有效期多长?")
    assert first.locator(".cite").count() >= 1
    with page.expect_request("**/api/chat/stream") as sent:
        second = ask_widget(page, "那不完整的呢?")
    history = json.loads(sent.value.post_data)["history"]
    assert [t["role"] for t in history] == ["user", "assistant"]
    assert history[0]["content"] == "MDF核销有效期多长?"
    assert "45天" in second.inner_text()

    # The conversation is kept for the browser session: a reload shows it, panel still open.
    page.reload()
    page.locator(f"{WIDGET} .msg.user").nth(1).wait_for()
    assert page.locator(f"{WIDGET} .msg.user").all_text_contents() == [
        "您: MDF核销有效期多长?",
        "您: 那不完整的呢?",
    ]
    assert "45天" in page.locator(f"{WIDGET} .msg.bot").last.inner_text()
    assert page.locator(f"{WIDGET} .panel").is_visible()
    # A new conversation forgets it.
    page.locator(f"{WIDGET} .reset").click()
    assert page.locator(f"{WIDGET} .msg.user").count() == 0
    assert visit.errors == []


def test_widget_shows_failures_and_leaves_them_out_of_the_history(
    visit: Visit, server: HelpdeskServer
) -> None:
    page = visit.open_partner_page()
    replies = [
        {
            "status": 200,
            "content_type": "text/event-stream",
            "body": 'event: error\ndata: {"message": "the index is being rebuilt"}\n\n',
        },
        {
            "status": 503,
            "content_type": "application/json",
            "body": '{"message": "no index: run helpdesk ingest", "detail": "IndexMissingError"}',
        },
    ]
    cors = {"Access-Control-Allow-Origin": visit.partner.origin}
    page.route(
        server.url + "/api/chat/stream",
        lambda route: (
            route.fulfill(headers=cors, **replies.pop(0)) if replies else route.continue_()
        ),
    )
    page.locator(f"{WIDGET} .launcher").click()
    failed = ask_widget(page, "激励开票可以开哪些发票?")
    assert "error" in (failed.get_attribute("class") or "")
    assert failed.inner_text().endswith("抱歉,出错了:the index is being rebuilt")
    failed = ask_widget(page, "激励开票可以开哪些发票?")
    assert failed.inner_text().endswith("抱歉,出错了:no index: run helpdesk ingest")
    with page.expect_request("**/api/chat/stream") as sent:
        answered = ask_widget(page, "激励开票可以开哪些发票?")
    assert json.loads(sent.value.post_data)["history"] == []
    assert answered.locator(".cite").count() >= 1
    assert visit.errors == []


def test_widget_on_a_375px_phone(
    browser: Any, server: HelpdeskServer, partner: PartnerSite
) -> None:
    v = Visit(
        browser,
        server,
        partner,
        viewport={"width": 375, "height": 667},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        page = v.open_partner_page(lang="en")
        launcher = page.locator(f"{WIDGET} .launcher")
        box = launcher.bounding_box()
        assert box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
        assert launcher.get_attribute("aria-label") == "Open the help assistant"
        launcher.tap()
        panel = page.locator(f"{WIDGET} .panel").bounding_box()
        assert panel == {"x": 0, "y": 0, "width": 375, "height": 667}
        bubble = ask_widget(page, "激励开票可以开哪些发票?")
        for part in (".send", "textarea", ".close"):
            b = page.locator(f"{WIDGET} {part}").bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 375, part
        b = bubble.bounding_box()
        assert b["x"] + b["width"] <= 375
        overflow = page.evaluate(
            "sel => { const l = document.querySelector(sel).shadowRoot.querySelector('.log');"
            " return l.scrollWidth - l.clientWidth; }",
            WIDGET,
        )
        assert overflow == 0
        assert page.locator(f"{WIDGET} .send").inner_text() == "Send"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        v.close()


def test_widget_with_the_keyboard_alone(visit: Visit) -> None:
    page = visit.open_partner_page()
    focused = (
        "sel => { const h = document.querySelector(sel);"
        " if (document.activeElement !== h) return document.activeElement.id || 'page';"
        " const a = h.shadowRoot.activeElement; return a ? a.className || a.tagName : 'host'; }"
    )
    for _ in range(6):  # the page's own link comes first, then the widget's button
        page.keyboard.press("Tab")
        if page.evaluate(focused, WIDGET) == "launcher":
            break
    assert page.evaluate(focused, WIDGET) == "launcher"
    outline = page.evaluate(
        "sel => getComputedStyle(document.querySelector(sel).shadowRoot"
        ".querySelector('.launcher')).outlineStyle",
        WIDGET,
    )
    assert outline == "solid"  # visible focus
    page.keyboard.press("Enter")
    assert page.locator(f"{WIDGET} .panel").is_visible()
    assert page.evaluate(focused, WIDGET) == "TEXTAREA"
    page.keyboard.type("激励开票可以开哪些发票?")
    page.keyboard.press("Enter")
    page.locator(f"{WIDGET} .msg.bot .cite").first.wait_for()
    page.wait_for_function(
        "sel => !document.querySelector(sel).shadowRoot.querySelector('.log[aria-busy]')",
        arg=WIDGET,
    )
    assert page.evaluate(focused, WIDGET) == "TEXTAREA"  # ready for the next question
    # Shift+Tab walks back into the answer: the footnotes are buttons, Enter opens one.
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(focused, WIDGET) == "cite":
            break
    assert page.evaluate(focused, WIDGET) == "cite"
    page.keyboard.press("Enter")
    assert page.locator(f"{WIDGET} .note:not([hidden])").count() == 1
    page.keyboard.press("Escape")
    assert not page.locator(f"{WIDGET} .panel").is_visible()
    assert page.evaluate(focused, WIDGET) == "launcher"
    assert visit.errors == []


def test_demo_page_embeds_the_widget(visit: Visit, server: HelpdeskServer, tmp_path: Path) -> None:
    page = visit.page
    page.goto(server.url + "/")
    page.locator(f"{WIDGET} .launcher").click()
    assert page.locator(f"{WIDGET} h2").inner_text() == "伙伴中心助手"
    assert page.locator(f"{WIDGET} .send").is_visible()  # despite `button {display: none}`
    assert page.locator(f"{WIDGET} .note").count() == 0  # despite `[hidden] {display: block}`
    bubble = ask_widget(page, "激励开票可以开哪些发票?")
    bubble.locator(".cite").first.click()
    assert bubble.locator(".note:not([hidden])").count() == 1
    shot(page, "widget.png", tmp_path)
    assert visit.foreign_requests() == [] and visit.errors == []


# ---- the console -------------------------------------------------------------------------


def test_console_searches_highlights_and_copies_the_draft(
    browser: Any, server: HelpdeskServer, partner: PartnerSite, tmp_path: Path
) -> None:
    v = Visit(browser, server, partner, viewport={"width": 1400, "height": 1000})
    try:
        v.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        page = v.page
        page.goto(server.url + "/console")
        page.locator("#q").fill("敏感关系申报")
        page.locator("#q").press("Enter")
        first = page.locator("#results .result").first
        first.wait_for()
        assert first.locator("h3").inner_text() == "1.敏感关系申报"
        assert first.locator(".crumb").inner_text() == "伙伴计划相关操作"
        marks = page.locator("#results mark").all_inner_texts()
        assert marks and all(len(m) >= 2 and m in "敏感关系申报" for m in marks), marks
        assert first.locator("h3 mark").all_inner_texts() == ["敏感关系申报"]
        assert "关系申报" in first.locator(".passage").inner_text()
        assert first.locator(".passage mark").count() >= 1
        assert "corpus/" in first.locator(".meta").inner_text()

        copy = page.locator("#copy")
        page.wait_for_function("() => !document.getElementById('copy').disabled")
        answer = page.locator("#answer").inner_text()
        citations = page.locator("#citations li")
        assert citations.count() >= 1
        assert "敏感关系申报" in citations.first.inner_text()
        shot(page, "console.png", tmp_path)
        copy.click()
        page.locator("#copy-status").filter(has_text="已复制到剪贴板").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith(answer.split("\n")[0])
        cited = r"\n\n\[1\] 伙伴计划相关操作 > 敏感关系申报 — \S+/000_703c6e61c96b5cdc\.txt\n    “"
        assert re.search(cited, copied), copied

        # The breadcrumb filter comes from /api/breadcrumbs and narrows the search.
        options = page.locator("#crumb option").all_inner_texts()
        assert "伙伴计划相关操作" in options
        with page.expect_request("**/api/search") as sent:
            page.locator("#crumb").select_option("伙伴计划相关操作")
        assert json.loads(sent.value.post_data)["breadcrumb"] == "伙伴计划相关操作"
        page.wait_for_function(
            "() => !/正在/.test(document.getElementById('search-status').textContent)"
        )
        crumbs = page.locator("#results .crumb").all_inner_texts()
        assert crumbs and set(crumbs) == {"伙伴计划相关操作"}
        assert v.errors == [] and v.dialogs == [] and v.foreign_requests() == []
    finally:
        v.close()


def test_console_copy_falls_back_to_a_textarea(
    browser: Any, server: HelpdeskServer, partner: PartnerSite
) -> None:
    v = Visit(browser, server, partner)
    try:
        page = v.page
        # A browser without clipboard access (an http:// intranet host, or a refusal).
        page.add_init_script(
            "navigator.clipboard.writeText = () => Promise.reject(new Error('denied'));"
        )
        page.goto(server.url + "/console?q=" + "激励开票可以开哪些发票?")
        page.wait_for_function("() => !document.getElementById('copy').disabled")
        page.locator("#copy").click()
        fallback = page.locator("#copy-fallback")
        assert fallback.is_visible()
        text = fallback.input_value()
        assert text.startswith(page.locator("#answer").inner_text().split("\n")[0])
        assert re.search(r"\n\[1\] 为激励开票 — \S+\.txt\n    “", text), text
    finally:
        v.close()


def test_console_lists_feedback_and_gaps_with_the_token(
    browser: Any, server: HelpdeskServer, partner: PartnerSite
) -> None:
    status, asked = http_json("POST", server.url + "/api/ask", {"question": "MDF核销有效期多长?"})
    assert status == 200
    status, _ = http_json(
        "POST",
        server.url + "/api/feedback",
        {"answer_id": asked["id"], "rating": "down", "comment": "想知道<b>不完整</b>的情况"},
    )
    assert status == 201
    v = Visit(browser, server, partner)
    try:
        page = v.page
        page.goto(server.url + "/console")
        page.locator("#token").fill("wrong")
        page.locator("#token").press("Enter")
        page.locator("#admin-status").filter(has_text="令牌无效").wait_for()
        page.locator("#token").fill(ADMIN_TOKEN)
        page.locator("#token-form button[type=submit]").click()
        row = page.locator("#feedback tbody tr").filter(has_text="想知道<b>不完整</b>的情况")
        row.wait_for()
        assert "MDF核销有效期多长?" in row.inner_text()
        assert page.locator("#feedback b").count() == 0  # the comment stayed text
        gap = page.locator("#gaps li").filter(has_text="MDF核销有效期多长?")
        gap.wait_for()
        assert re.match(r"^\d+×", gap.inner_text())
        # The token is kept for the browser session.
        page.reload()
        assert page.locator("#token").input_value() == ADMIN_TOKEN
        page.locator("#feedback tbody tr").first.wait_for()
    finally:
        v.close()


# ---- hostile text ------------------------------------------------------------------------


def test_hostile_markup_in_the_pages_stays_inert_text(
    browser: Any, xss_server: HelpdeskServer, partner: PartnerSite
) -> None:
    v = Visit(browser, xss_server, partner)
    try:
        page = v.open_partner_page()
        page.locator(f"{WIDGET} .launcher").click()
        bubble = ask_widget(page, "HTML代码应该怎么显示?")
        assert XSS in bubble.inner_text()
        bubble.locator(".cite").first.click()
        assert XSS in bubble.locator(".note blockquote").first.inner_text()
        bubble = ask_widget(page, "来源链接不是网页地址怎么办?")
        bubble.locator(".cite").first.click()
        note = bubble.locator(".note").first
        assert note.locator(".note-title").inner_text() == f"[1] {XSS_TITLE}"
        assert note.locator("a").count() == 0  # javascript: is never made a link
        assert "javascript:alert(2)" in note.inner_text()
        note.hover()
        counts = page.evaluate(
            "sel => { const r = document.querySelector(sel).shadowRoot;"
            " return [r.querySelectorAll('img').length, r.querySelectorAll('b').length]; }",
            WIDGET,
        )
        assert counts == [0, 0]

        page.goto(xss_server.url + "/console")
        page.locator("#q").fill("HTML代码怎么显示")
        page.locator("#q").press("Enter")
        page.locator("#results .result").first.wait_for()
        page.wait_for_function("() => !document.getElementById('copy').disabled")
        assert XSS in page.locator("#results").inner_text()
        assert XSS in page.locator("#answer").inner_text()
        page.locator("#q").fill("来源链接不是网页地址怎么办?")
        page.locator("#q").press("Enter")
        page.locator("#citations li").filter(has_text=XSS_TITLE).wait_for()
        assert page.locator("#results h3").filter(has_text=XSS_TITLE).count() >= 1
        assert page.locator("main img, main b, #citations a, #results a").count() == 0
        page.wait_for_timeout(300)  # an onerror handler would have fired by now
        assert v.dialogs == [] and v.errors == []
    finally:
        v.close()
