"""The HTTP API through TestClient: the real app over the real seed index and model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.answer import REFUSAL_ZH
from bot.api import create_app
from bot.assistant import Assistant
from bot.feedback import FeedbackStore
from bot.render import answer_json
from ingest.settings import Settings
from tests.bot.standin_llm import Reply, StandIn, serve, with_standin_llm

TOKEN = "s3cret-admin-token"
ORIGIN = "https://partner.example.com"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INVOICES = "激励开票可以开哪些发票?"
CLOUD = "云服务器怎么扩容磁盘?"


@pytest.fixture(scope="module")
def assistant(seed_index: Settings, bundled_embedder: Any) -> Iterator[Assistant]:
    a = Assistant.open(seed_index, bundled_embedder)
    yield a
    a.close()


def make_client(settings: Settings, assistant: Assistant | None, tmp_path: Path) -> TestClient:
    feedback = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    return TestClient(create_app(settings, assistant, feedback))


@pytest.fixture
def settings(seed_index: Settings) -> Settings:
    update = {"admin_token": SecretStr(TOKEN), "allowed_origins": [ORIGIN]}
    return seed_index.model_copy(update=update)


@pytest.fixture
def client(settings: Settings, assistant: Assistant, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(settings, assistant, tmp_path) as c:
        yield c


def events(body: str) -> list[tuple[str, Any]]:
    """Parse a text/event-stream body into (event, JSON data) pairs."""
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


# ---- ask ------------------------------------------------------------------------------------


def test_ask_answers_with_cited_quotes(client: TestClient) -> None:
    r = client.post("/api/ask", json={"question": INVOICES})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] is False and body["answerer"] == "extractive"
    assert "支持开具增值税专用发票和电子专票,不能开具增值税普通发票。[1]" in body["answer"]
    first = body["citations"][0]
    assert first["n"] == 1 and first["title"] == "为激励开票"
    assert first["quote"] in first["text"]
    assert first["source"]["path"].endswith("corpus/000_703c6e61c96b5cdc.txt")
    assert first["source"]["url"] is None
    assert len(body["id"]) == 32 and body["query"] == INVOICES
    assert body["hits"][0]["title"] == "为激励开票"
    # the shipped reading model read the passages: how sure it is that the first one answers
    assert 0.5 < body["confidence"] <= 1.0


def test_ask_returns_the_ask_json_of_the_cli_plus_an_id(
    client: TestClient, assistant: Assistant
) -> None:
    body = client.post("/api/ask", json={"question": INVOICES, "k": 3}).json()
    expected = answer_json(assistant.ask(INVOICES, k=3))
    assert {k: v for k, v in body.items() if k != "id"} == expected


def test_ask_refuses_a_question_the_pages_do_not_cover(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": CLOUD}).json()
    assert body["refused"] is True and body["citations"] == []
    assert body["answer"].startswith(REFUSAL_ZH)
    assert body["confidence"] is not None and 0.0 <= body["confidence"] <= 1.0


def test_a_follow_up_uses_the_history(client: TestClient) -> None:
    history = [{"role": "user", "content": INVOICES}, {"role": "assistant", "content": "…"}]
    body = client.post("/api/ask", json={"question": "那普通发票可以吗?", "history": history})
    assert body.json()["query"] == "激励开票可以开哪些发票 普通发票可以"


@pytest.mark.parametrize(
    ("turns", "query"), [(10, "激励开票可以开哪些发票 普通发票可以"), (2, "那普通发票可以吗?")]
)
def test_history_beyond_history_turns_is_dropped(
    settings: Settings, assistant: Assistant, tmp_path: Path, turns: int, query: str
) -> None:
    history = [{"role": "user", "content": INVOICES}] + [
        {"role": "assistant", "content": f"answer {i}"} for i in range(3)
    ]
    limited = settings.model_copy(update={"history_turns": turns})
    with make_client(limited, assistant, tmp_path) as c:
        r = c.post("/api/ask", json={"question": "那普通发票可以吗?", "history": history})
    assert r.status_code == 200 and r.json()["query"] == query


def test_a_long_history_is_not_an_error(client: TestClient) -> None:
    history = [{"role": "user" if i % 2 else "assistant", "content": "你好"} for i in range(500)]
    r = client.post("/api/ask", json={"question": INVOICES, "history": history})
    assert r.status_code == 200 and r.json()["refused"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "question: Value error, must not be empty or blank"),
        ({"question": " \n\t　"}, "question: Value error, must not be empty or blank"),
        ({"question": "激" * 2001}, "question: must be at most 2000 characters (got 2001)"),
        ({}, "question: Field required"),
        ({"question": 5}, "question: Input should be a valid string"),
        ({"question": INVOICES, "k": 0}, "k: Input should be greater than or equal to 1"),
        (
            {"question": INVOICES, "k": "many"},
            "k: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"question": INVOICES, "history": [{"role": "system", "content": "x"}]},
            "history.0.role: Input should be 'user' or 'assistant'",
        ),
        ({"question": INVOICES, "history": "none"}, "history: Input should be a valid list"),
        ([INVOICES], "Input should be a valid dictionary or object to extract fields from"),
    ],
)
def test_bad_input_is_422_with_a_message(client: TestClient, body: Any, message: str) -> None:
    r = client.post("/api/ask", json=body)
    assert r.status_code == 422
    assert r.json()["message"] == message


def test_malformed_json_and_invalid_text_are_422(client: TestClient) -> None:
    headers = {"Content-Type": "application/json"}
    r = client.post("/api/ask", content=b'{"question": "abc', headers=headers)
    assert r.status_code == 422
    assert r.json()["message"] == (
        "the body is not valid JSON at character 13: Unterminated string starting at"
    )
    r = client.post("/api/ask", content=b'{"question": "\\ud800"}', headers=headers)
    assert r.status_code == 422
    assert r.json()["message"] == (
        "question: Value error, the text holds invalid characters (lone surrogates)"
    )
    r = client.post("/api/ask", content="激励".encode("gb18030"), headers=headers)
    assert r.status_code == 422
    assert r.json()["message"] == "the body is not valid JSON: it is not UTF-8 text"


def test_a_huge_body_is_413(client: TestClient) -> None:
    history = [{"role": "user", "content": "激" * 8000}] * 50
    r = client.post("/api/ask", json={"question": INVOICES, "history": history})
    assert r.status_code == 413


def test_the_question_limit_comes_from_the_settings(
    settings: Settings, assistant: Assistant, tmp_path: Path
) -> None:
    short = settings.model_copy(update={"max_question_chars": 12})
    with make_client(short, assistant, tmp_path) as c:
        assert c.post("/api/ask", json={"question": "激励开票可以开哪些发票?"}).status_code == 200
        r = c.post("/api/search", json={"query": "激励开票可以开哪些发票??"})
        assert r.status_code == 422
        assert r.json()["message"] == "query: must be at most 12 characters (got 13)"
        schema = c.get("/openapi.json").json()["components"]["schemas"]
    assert schema["AskRequest"]["properties"]["question"]["maxLength"] == 12
    assert schema["SearchRequest"]["properties"]["query"]["maxLength"] == 12


# ---- search and breadcrumbs -------------------------------------------------------------------


def test_search_ranks_passages_with_sources_and_ranks(client: TestClient) -> None:
    body = client.post("/api/search", json={"query": "激励开票", "k": 3}).json()
    assert body["query"] == "激励开票" and len(body["hits"]) == 3
    top = body["hits"][0]
    assert top["title"] == "为激励开票" and top["breadcrumb"] == ""
    assert top["source"]["path"].endswith("corpus/000_703c6e61c96b5cdc.txt")
    assert top["ranks"] == {"lexical": 1, "dense": 2}
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_breadcrumbs_are_the_distinct_non_empty_ones(client: TestClient) -> None:
    assert client.get("/api/breadcrumbs").json() == {
        "breadcrumbs": ["伙伴计划相关操作", "经销商子客户"]
    }


def test_search_within_a_breadcrumb(client: TestClient) -> None:
    body = client.post("/api/search", json={"query": "激励", "breadcrumb": "经销商子客户"}).json()
    assert body["hits"] and {h["breadcrumb"] for h in body["hits"]} == {"经销商子客户"}
    none = client.post("/api/search", json={"query": "激励", "breadcrumb": "经销商"}).json()
    assert none["hits"] == []  # a breadcrumb matches whole levels, not a prefix of a name


def test_search_rejects_a_blank_query(client: TestClient) -> None:
    r = client.post("/api/search", json={"query": "  "})
    assert (
        r.status_code == 422
        and r.json()["message"] == "query: Value error, must not be empty or blank"
    )


# ---- streaming --------------------------------------------------------------------------------


def test_stream_sends_sentences_then_the_answer_then_done(client: TestClient) -> None:
    r = client.post("/api/chat/stream", json={"question": INVOICES})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    names = [name for name, _ in got]
    assert names == ["delta", "delta", "delta", "answer", "done"]
    answer = got[-2][1]
    assert "".join(data["text"] for name, data in got if name == "delta") == answer["answer"]
    assert got[0][1]["text"].endswith("[1]")
    assert answer["citations"][0]["title"] == "为激励开票" and answer["refused"] is False
    assert got[-1][1] == {"id": answer["id"]}
    rated = client.post("/api/feedback", json={"answer_id": answer["id"], "rating": "up"})
    assert rated.status_code == 201


def test_stream_of_a_refusal(client: TestClient) -> None:
    got = events(client.post("/api/chat/stream", json={"question": CLOUD}).text)
    assert [n for n, _ in got] == ["delta", "answer", "done"]
    assert got[0][1]["text"] == got[1][1]["answer"] and got[1][1]["refused"] is True


def test_stream_rejects_bad_input_before_streaming(client: TestClient) -> None:
    r = client.post("/api/chat/stream", json={"question": ""})
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    yield from serve(StandIn())


def test_stream_tees_the_llm_chunks_then_sends_the_verified_answer(
    settings: Settings, bundled_embedder: Any, standin: StandIn, tmp_path: Path
) -> None:
    standin.reset()
    llm = with_standin_llm(settings, standin)
    # The second sentence cites nothing: it streams, but verification drops it.
    standin.replies.append(Reply("激励发票支持增值税专用发票和电子专票[1]。还有别的。"))
    a = Assistant.open(llm, bundled_embedder)
    try:
        with make_client(llm, a, tmp_path) as c:
            got = events(c.post("/api/chat/stream", json={"question": INVOICES}).text)
    finally:
        a.close()
    deltas = [data["text"] for name, data in got if name == "delta"]
    assert deltas == Reply("激励发票支持增值税专用发票和电子专票[1]。还有别的。").pieces()
    name, answer = got[-2]
    assert name == "answer" and answer["answerer"] == "llm"
    assert answer["answer"] == "激励发票支持增值税专用发票和电子专票[1]。"
    assert answer["reason"] == "dropped 1 sentence(s) without a valid citation"


# ---- feedback and admin -----------------------------------------------------------------------


def test_feedback_is_stored_and_listed_for_admins(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": INVOICES}).json()
    r = client.post(
        "/api/feedback", json={"answer_id": answer["id"], "rating": "down", "comment": "缺少模板"}
    )
    assert r.status_code == 201 and r.json() == {"ok": True}
    (row,) = client.get("/api/admin/feedback", headers=AUTH).json()["feedback"]
    assert row["answer_id"] == answer["id"] and row["rating"] == "down"
    assert row["comment"] == "缺少模板" and row["question"] == INVOICES
    assert row["answer"] == answer["answer"] and row["refused"] is False


def test_feedback_on_an_unknown_answer_is_404(client: TestClient) -> None:
    r = client.post("/api/feedback", json={"answer_id": "nope", "rating": "up"})
    assert r.status_code == 404 and r.json()["message"] == "no answer has the id 'nope'"
    r = client.post("/api/feedback", json={"answer_id": "nope", "rating": "meh"})
    assert r.status_code == 422


def test_gaps_group_refused_and_thumbs_down_questions(client: TestClient) -> None:
    for question in (CLOUD, "云服务器怎么扩容磁盘", "云服务器如何扩容磁盘?"):
        assert client.post("/api/ask", json={"question": question}).json()["refused"]
    answered = client.post("/api/ask", json={"question": INVOICES}).json()
    client.post("/api/feedback", json={"answer_id": answered["id"], "rating": "down"})
    body = client.get("/api/admin/gaps", headers=AUTH).json()
    assert body["questions"] == 4
    first, second = body["gaps"]
    assert first["question"] in (CLOUD, "云服务器怎么扩容磁盘")
    assert (first["count"], first["refused"], first["down"]) == (3, 3, 0)
    assert set(first["questions"]) == {CLOUD, "云服务器怎么扩容磁盘", "云服务器如何扩容磁盘?"}
    assert (second["question"], second["count"], second["down"]) == (INVOICES, 1, 1)
    assert second["answer_ids"] == [answered["id"]]


@pytest.mark.parametrize("path", ["/api/admin/gaps", "/api/admin/feedback", "/api/admin/reindex"])
def test_admin_needs_the_token(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["message"].startswith("a valid admin token is required")
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get(path, headers=AUTH).status_code == 200


def test_admin_is_disabled_without_a_configured_token(
    seed_index: Settings, assistant: Assistant, tmp_path: Path
) -> None:
    with make_client(seed_index, assistant, tmp_path) as c:
        r = c.post("/api/admin/reindex", headers=AUTH)
    assert r.status_code == 403
    assert r.json()["message"] == (
        "the admin endpoints are disabled: set HELPDESK_ADMIN_TOKEN to enable them"
    )


# ---- health, CORS, pages ----------------------------------------------------------------------


def test_healthz(client: TestClient, assistant: Assistant) -> None:
    assert client.get("/healthz").json() == {
        "status": "ok",
        "index_loaded": True,
        "passages": assistant.retriever.store.passage_count(),
        "embedding_model": "bundled:multilingual-e5-small-q4",
        "version": "0.1.0",
    }


def test_cors_allows_only_the_configured_origins(client: TestClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = client.options("/api/ask", headers={"Origin": ORIGIN, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    bad = client.options("/api/ask", headers={"Origin": "https://evil.example", **preflight})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
    simple = client.post("/api/search", json={"query": "激励"}, headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    other = client.post(
        "/api/search", json={"query": "激励"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("path", "name", "media"),
    [
        ("/widget.js", "widget.js", "text/javascript"),
        ("/", "demo.html", "text/html"),
        ("/console", "console.html", "text/html"),
    ],
)
def test_pages_are_served_from_static(
    client: TestClient, tmp_path: Path, path: str, name: str, media: str
) -> None:
    state = client.app.state.helpdesk  # type: ignore[attr-defined]
    state.static_dir = tmp_path
    missing = client.get(path)
    assert missing.status_code == 404
    assert missing.json()["message"] == f"{name} is not installed: bot/static/{name} is missing"
    (tmp_path / name).write_text("<p>页面</p>", encoding="utf-8")
    r = client.get(path)
    assert r.status_code == 200 and r.text == "<p>页面</p>"
    assert r.headers["content-type"] == f"{media}; charset=utf-8"


def test_unknown_routes_and_methods_answer_with_a_message(client: TestClient) -> None:
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["message"] == "Not Found"
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.json()["message"] == "Method Not Allowed"


# ---- re-index ---------------------------------------------------------------------------------

PAGE_A = "# 发票邮寄地址\n\n发票请邮寄到华为云深圳财务中心,收件人为伙伴发票组。\n"
PAGE_B = "# 代金券有效期\n\n转代金券额度发放的代金券有效期为一年,过期自动作废。\n"


def test_a_fresh_server_builds_its_index_by_reindex_and_swaps_when_done(
    tmp_path: Path, bundled_embedder: Any
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(PAGE_A, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", corpus=corpus, admin_token=SecretStr(TOKEN))
    with TestClient(create_app(settings)) as c:  # the lifespan finds no index
        assert c.get("/healthz").json()["index_loaded"] is False
        r = c.post("/api/ask", json={"question": "发票寄到哪里?"})
        assert r.status_code == 503
        assert r.json()["message"].endswith("run `helpdesk ingest` first")
        assert c.post("/api/chat/stream", json={"question": "发票寄到哪里?"}).status_code == 503

        state = c.app.state.helpdesk  # type: ignore[attr-defined]
        gate = threading.Event()

        def gated_open(s: Settings, embedder: Any) -> Assistant:
            gate.wait(30)
            return Assistant.open(s, embedder)

        state.reindexer.opener = gated_open
        started = c.post("/api/admin/reindex", headers=AUTH)
        assert started.status_code == 202 and started.json()["state"] == "running"
        assert c.post("/api/admin/reindex", headers=AUTH).status_code == 409
        gate.set()
        state.reindexer.join(60)
        status = c.get("/api/admin/reindex", headers=AUTH).json()
        assert status["state"] == "done" and status["report"]["passages_out"] == 1
        first = state.service.assistant
        assert c.get("/healthz").json()["passages"] == 1
        assert (
            "伙伴发票组"
            in c.post("/api/ask", json={"question": "发票邮寄到哪里?"}).json()["answer"]
        )

        # While the next re-index is incomplete, the old Assistant keeps answering.
        (corpus / "b.md").write_text(PAGE_B, encoding="utf-8")
        gate.clear()
        assert c.post("/api/admin/reindex", headers=AUTH).status_code == 202
        r = c.post("/api/ask", json={"question": "发票邮寄到哪里?"})
        assert r.status_code == 200 and state.service.assistant is first
        gate.set()
        state.reindexer.join(60)
        assert c.get("/api/admin/reindex", headers=AUTH).json()["state"] == "done"
        assert state.service.assistant is not first
        body = c.post("/api/ask", json={"question": "代金券有效期多久?"}).json()
        assert body["refused"] is False and "一年" in body["answer"]
        assert c.get("/healthz").json()["passages"] == 2
    assert (tmp_path / "data" / "feedback.sqlite3").exists()


def test_a_failed_reindex_keeps_the_old_index_and_says_why(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    state = client.app.state.helpdesk  # type: ignore[attr-defined]
    state.reindexer.settings = settings.model_copy(update={"corpus": tmp_path / "missing"})
    assert client.post("/api/admin/reindex", headers=AUTH).status_code == 202
    state.reindexer.join(30)
    status = client.get("/api/admin/reindex", headers=AUTH).json()
    assert status["state"] == "failed"
    assert status["error"] == f"corpus path {tmp_path / 'missing'} does not exist"
    assert client.post("/api/ask", json={"question": INVOICES}).json()["refused"] is False
