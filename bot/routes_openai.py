"""POST /v1/chat/completions: the assistant behind any OpenAI-compatible chat client.

The last user message is the question and the earlier user and assistant messages are the
conversation; the reply is the answer with its citations as numbered footnotes (the text of
`helpdesk ask`), and the citations as JSON in an extra `citations` field. A stream sends the
verified answer in pieces (an OpenAI client cannot replace text it has shown), the last
chunk carrying the citations, then `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bot.deps import State, check_length, keep_recent, record
from bot.records import Turn
from bot.render import answer_text
from bot.schemas import ChatCompletionRequest, ChatMessage, ContentPart, ErrorResponse
from bot.streaming import guarded, pieces

router = APIRouter()
COMPLETION_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A chat.completion object, or chat.completion.chunk events when streaming.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"type": "string"}},
                }
            },
        },
    },
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


def text_of(content: str | Sequence[ContentPart] | None) -> str:
    """Return the text of a message's content (text parts joined; other parts ignored)."""
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(p.text for p in content if p.type == "text" and p.text)


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """Return the last user message and the user and assistant messages before it."""
    texts = [(m.role, text_of(m.content)) for m in messages]
    last = next((i for i in reversed(range(len(texts))) if texts[i][0] == "user"), None)
    if last is None or not texts[last][1].strip():
        msg = "no user message to answer" if last is None else "the last user message is empty"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "messages"), "msg": msg}]
        )
    history = [
        Turn("user" if role == "user" else "assistant", text)
        for role, text in texts[:last]
        if role in ("user", "assistant") and text.strip()
    ]
    return texts[last][1], history


def _chunk(
    base: dict[str, object],
    delta: dict[str, str],
    finish: str | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    body = {**base, "object": "chat.completion.chunk", "choices": [choice], **(extra or {})}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _chunks(
    base: dict[str, object], content: str, extra: dict[str, object]
) -> AsyncIterator[str]:
    yield _chunk(base, {"role": "assistant", "content": ""})
    for piece in pieces(content):
        yield _chunk(base, {"content": piece})
    yield _chunk(base, {}, "stop", extra)
    yield "data: [DONE]\n\n"


def _error_chunk(message: str) -> str:
    error = {"message": message, "type": "server_error"}
    return f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"


@router.post("/v1/chat/completions", response_model=None, responses=COMPLETION_DOC)
async def chat_completions(body: ChatCompletionRequest, st: State) -> Response:
    """Answer the last user message in the OpenAI chat completion format."""
    service, feedback, _ = st.ready()
    question, history = conversation(body.messages)
    check_length("messages", question, st.settings.max_question_chars)
    history = keep_recent(history, st.settings)
    answer = await service.call(lambda a: a.ask(question, history))
    data = await record(feedback, question, answer, "openai")
    base: dict[str, object] = {
        "id": f"chatcmpl-{data['id']}",
        "created": int(time.time()),
        "model": body.model,
    }
    extra = {"citations": data["citations"], "answer_id": data["id"], "refused": answer.refused}
    content = answer_text(answer)
    if body.stream:
        return StreamingResponse(
            guarded(_chunks(base, content, extra), _error_chunk),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    completion = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
    return JSONResponse({**completion, **extra})
