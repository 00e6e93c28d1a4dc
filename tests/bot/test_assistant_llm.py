"""The assistant with HELPDESK_LLM set: the real ChatOpenAI client against a local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.assistant import Assistant
from ingest.settings import Settings
from tests.bot.standin_llm import Reply, StandIn, serve, with_standin_llm


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    yield from serve(StandIn())


@pytest.fixture
def assistant(seed_index: Settings, bundled_embedder: Any, standin: StandIn) -> Iterator[Assistant]:
    standin.reset()
    settings = with_standin_llm(seed_index, standin)
    a = Assistant.open(settings, bundled_embedder)
    yield a
    a.close()


def test_the_llm_answer_is_verified_and_cited(assistant: Assistant, standin: StandIn) -> None:
    standin.replies.append(Reply("激励发票支持增值税专用发票和电子专票[1]。"))
    answer = assistant.ask("激励开票可以开哪些发票?")
    assert answer.answerer == "llm"
    assert answer.text == "激励发票支持增值税专用发票和电子专票[1]。"
    (citation,) = answer.citations
    assert citation.quote in citation.passage.text
    prompt = str(standin.requests[-1]["messages"])
    assert "激励开票可以开哪些发票?" in prompt and "[1]" in prompt


def test_an_llm_answer_citing_nothing_falls_back_to_extractive(
    assistant: Assistant, standin: StandIn
) -> None:
    standin.replies.append(Reply("可以开专票。"))
    answer = assistant.ask("激励开票可以开哪些发票?")
    assert answer.answerer == "extractive"
    assert "llm cited nothing valid" in answer.reason
    assert "增值税专用发票和电子专票" in answer.text


def test_a_follow_up_is_rewritten_by_the_llm(assistant: Assistant, standin: StandIn) -> None:
    from bot.records import Turn

    standin.replies.extend([Reply("MDF不完整的核销最多保留多久"), Reply("最多保留45天[1]。")])
    answer = assistant.ask("那不完整的呢?", [Turn("user", "MDF核销有效期多长?")])
    assert answer.query == "MDF不完整的核销最多保留多久"
    assert answer.answerer == "llm" and "45天" in answer.text
