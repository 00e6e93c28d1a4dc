"""POST /v1/chat/completions with the official openai client against a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from bot.answer import REFUSAL_ZH
from bot.api import create_app
from bot.assistant import Assistant
from bot.feedback import FeedbackStore
from ingest.settings import Settings
from tests.servers import serving

INVOICES = "激励开票可以开哪些发票?"
SENTENCE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedbackStore]:
    store = FeedbackStore.open(tmp_path_factory.mktemp("openai") / "feedback.sqlite3")
    yield store
    store.close()


@pytest.fixture(scope="module")
def base_url(seed_index: Settings, bundled_embedder: Any, feedback: FeedbackStore) -> Iterator[str]:
    """Serve the real app on 127.0.0.1 and a free port in a thread."""
    assistant = Assistant.open(seed_index, bundled_embedder)
    app = create_app(seed_index, assistant, feedback)
    try:
        with serving(app, "helpdesk-api") as url:
            yield f"{url}/v1"
    finally:
        assistant.close()


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="any", max_retries=0, timeout=30)


def test_a_completion_carries_the_answer_footnotes_and_citations(
    client: openai.OpenAI, feedback: FeedbackStore
) -> None:
    completion = client.chat.completions.create(
        model="partner-bot",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": INVOICES},
        ],
    )
    assert completion.model == "partner-bot" and completion.object == "chat.completion"
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    answer, footnotes = content.split("\n\n", 1)
    assert SENTENCE + "[1]" in answer
    assert footnotes.startswith("[1] 为激励开票 — ")
    assert "\n    “合作伙伴收到华为云的激励开票通知后," in footnotes
    extra = completion.model_extra or {}
    assert extra["citations"][0]["title"] == "为激励开票" and extra["refused"] is False
    assert extra["citations"][0]["quote"] in extra["citations"][0]["text"]
    assert completion.id == f"chatcmpl-{extra['answer_id']}"
    assert feedback.ask_json(extra["answer_id"])["answer"] == answer  # type: ignore[index]


def test_a_stream_sends_the_same_text_and_citations_on_the_last_chunk(
    client: openai.OpenAI,
) -> None:
    whole = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": INVOICES}]
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": INVOICES}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert len(chunks) > 3  # sentence by sentence, not one piece
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c["title"] for c in (last.model_extra or {})["citations"]] == [
        c["title"] for c in (whole.model_extra or {})["citations"]
    ]


def test_earlier_messages_are_the_conversation(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m",
        messages=[
            {"role": "user", "content": INVOICES},
            {"role": "assistant", "content": "支持开具增值税专用发票和电子专票。[1]"},
            {"role": "user", "content": [{"type": "text", "text": "那普通发票可以吗?"}]},
        ],
    )
    content = completion.choices[0].message.content or ""
    # Read with the first question, "那普通发票可以吗?" asks about the incentive invoice rule.
    assert SENTENCE + "[1]" in content.split("\n\n")[0]


def test_an_out_of_scope_question_is_refused(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "云服务器怎么扩容磁盘?"}]
    )
    assert (completion.choices[0].message.content or "").startswith(REFUSAL_ZH)
    assert (completion.model_extra or {})["citations"] == []


def test_no_user_message_is_a_422(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.chat.completions.create(model="m", messages=[{"role": "system", "content": "hi"}])
    assert raised.value.body == {
        "message": "messages: no user message to answer",
        "detail": [
            {"type": "value_error", "loc": ["body", "messages"], "msg": "no user message to answer"}
        ],
    }


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(
    client: openai.OpenAI,
) -> None:
    questions = [INVOICES, "MDF核销有效期多长?", "云服务器怎么扩容磁盘?", "那普通发票可以吗?"] * 3

    def ask(question: str) -> str:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": question}]
        )
        return completion.choices[0].message.content or ""

    alone = {q: ask(q) for q in set(questions)}
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(ask, questions))
    assert together == [alone[q] for q in questions]
