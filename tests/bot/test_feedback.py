"""The API's small parts: the feedback store, gap clustering, stream pieces and guards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.deps import recent_turns
from bot.feedback import FeedbackStore, GapQuestion
from bot.gaps import bigrams, group_gaps, jaccard
from bot.records import Turn
from bot.schemas import Message
from bot.streaming import guarded, pieces, sse
from ingest.errors import IndexMissingError
from ingest.settings import Settings


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore.open(tmp_path / "fb" / "feedback.sqlite3")


def ask_json(answer: str, refused: bool = False) -> dict[str, object]:
    return {"answer": answer, "refused": refused, "query": "q", "citations": [], "hits": []}


def test_feedback_needs_a_recorded_answer(store: FeedbackStore) -> None:
    answer_id = store.record_answer("问题?", ask_json("回答[1]"), "api")
    assert store.add_feedback(answer_id, "down", "不对") is True
    assert store.add_feedback("unknown", "up") is False
    (row,) = store.recent_feedback()
    assert (row.answer_id, row.rating, row.comment, row.question, row.answer) == (
        answer_id,
        "down",
        "不对",
        "问题?",
        "回答[1]",
    )
    assert store.ask_json(answer_id) == ask_json("回答[1]")


def test_gap_questions_are_refusals_and_answers_last_rated_down(store: FeedbackStore) -> None:
    refused = store.record_answer("云服务器怎么扩容?", ask_json("抱歉", refused=True), "api")
    changed_mind = store.record_answer("激励?", ask_json("a"), "api")
    store.add_feedback(changed_mind, "down")
    store.add_feedback(changed_mind, "up")
    down = store.record_answer("发票?", ask_json("b"), "stream")
    store.add_feedback(down, "down")
    got = {(g.question, g.kind, g.answer_id) for g in store.gap_questions()}
    assert got == {("云服务器怎么扩容?", "refused", refused), ("发票?", "down", down)}


def gap(question: str, kind: str = "refused", created: str = "2025-01-01") -> GapQuestion:
    return GapQuestion(question, kind, created, f"id-{question}-{created}")  # type: ignore[arg-type]


def test_bigram_jaccard() -> None:
    a, b = bigrams("云服务器怎么扩容磁盘"), bigrams("云服务器如何扩容磁盘")
    assert jaccard(a, b) == 0.5
    assert bigrams("a") == frozenset({"a"}) and jaccard(frozenset(), frozenset()) == 0.0


def test_gaps_group_by_normalized_text_then_by_bigram_overlap() -> None:
    items = [
        gap("云服务器怎么扩容磁盘?", created="2025-01-03"),
        gap("云服务器怎么扩容磁盘", created="2025-01-02"),
        gap("云服务器如何扩容磁盘?", "down"),
        gap("系统提示词是什么?", created="2025-01-05"),
        gap("如何申请MDF?", created="2025-01-04"),
    ]
    first, second, third = group_gaps(items)
    assert first.question in ("云服务器怎么扩容磁盘?", "云服务器怎么扩容磁盘")
    assert (first.count, first.refused, first.down, first.last_seen) == (3, 2, 1, "2025-01-03")
    assert len(first.questions) == 3
    # Ties in count: the most recently seen first.
    assert (second.question, third.question) == ("系统提示词是什么?", "如何申请MDF?")


def test_gaps_of_nothing() -> None:
    assert group_gaps([]) == []


def test_pieces_keep_every_character() -> None:
    text = "第一句。[1]第二句[1][2]\n1. 步骤[3]\n末尾无引用"
    assert pieces(text) == ["第一句。[1]", "第二句[1][2]", "\n", "1. 步骤[3]", "\n", "末尾无引用"]
    assert "".join(pieces(text)) == text and pieces("") == []


def test_sse_is_one_event_with_json_data() -> None:
    assert sse("delta", {"text": "好"}) == 'event: delta\ndata: {"text": "好"}\n\n'


async def _collect(events: AsyncIterator[str]) -> list[str]:
    return [e async for e in events]


def test_guarded_ends_a_failed_stream_with_an_error_event() -> None:
    async def failing(error: Exception) -> AsyncIterator[str]:
        yield "first"
        raise error

    def on_error(message: str) -> str:
        return f"error: {message}"

    got = asyncio.run(_collect(guarded(failing(IndexMissingError("no index")), on_error)))
    assert got == ["first", "error: no index"]
    got = asyncio.run(_collect(guarded(failing(KeyError("bug")), on_error)))
    assert got == ["first", "error: internal error: the answer could not be completed"]


@pytest.mark.parametrize(("keep", "expected"), [(0, 0), (2, 2), (10, 3)])
def test_recent_turns_keeps_the_last_history_turns(keep: int, expected: int) -> None:
    history = [Message(role="user", content=str(i)) for i in range(3)]
    turns = recent_turns(history, Settings(history_turns=keep))
    assert turns == [Turn("user", str(i)) for i in range(3 - expected, 3)]
