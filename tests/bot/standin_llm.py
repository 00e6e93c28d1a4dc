"""A local stand-in for an OpenAI-compatible chat server: scripted replies, recorded requests.

Tests queue Reply objects and point the real ChatOpenAI at `standin.base_url`; the server
answers POST /v1/chat/completions with the next reply, as one JSON completion or, when the
request says `stream: true`, as `chat.completion.chunk` server-sent events ending with
`data: [DONE]` (the shapes openai.types.chat.ChatCompletion / ChatCompletionChunk parse).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from ingest.settings import Settings
from tests.servers import serving


@dataclass(frozen=True)
class Reply:
    """One scripted completion: its text (or chunks), an HTTP status and a delay before it."""

    content: str = ""
    status: int = 200
    delay: float = 0.0
    chunks: tuple[str, ...] = ()  # streamed pieces; default: content in pieces of 4 chars
    break_after: int | None = None  # drop the connection after this many streamed chunks
    html: str | None = None  # answer 200 with this HTML instead (a misconfigured proxy)

    def pieces(self) -> list[str]:
        """Return the streamed pieces of the content."""
        if self.chunks:
            return list(self.chunks)
        return [self.content[i : i + 4] for i in range(0, len(self.content), 4)]


@dataclass
class StandIn:
    """The server's script (a queue of replies) and the JSON bodies it received."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def script(self, *replies: Reply | str) -> None:
        """Queue replies (a str is a 200 reply with that content)."""
        self.replies.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def reset(self) -> None:
        """Forget the queued replies and the recorded requests."""
        self.replies.clear()
        self.requests.clear()


def _completion(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunk(delta: dict[str, Any], model: str, finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def make_app(state: StandIn) -> FastAPI:
    """Build the FastAPI app serving the state's script."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        if not state.replies:
            return JSONResponse({"error": {"message": "no scripted reply"}}, status_code=500)
        reply = state.replies.popleft()
        await asyncio.sleep(reply.delay)
        if reply.status != 200:
            error = {"message": f"scripted status {reply.status}", "type": "server_error"}
            return JSONResponse({"error": error}, status_code=reply.status)
        if reply.html is not None:
            return HTMLResponse(reply.html)
        model = body.get("model", "standin")
        if not body.get("stream"):
            return JSONResponse(_completion(reply.content, model))

        async def events() -> AsyncIterator[str]:
            yield _chunk({"role": "assistant", "content": ""}, model)
            for i, piece in enumerate(reply.pieces()):
                if reply.break_after is not None and i >= reply.break_after:
                    raise ConnectionError("scripted break")  # uvicorn drops the connection
                await asyncio.sleep(0.01)
                yield _chunk({"content": piece}, model)
            yield _chunk({}, model, finish="stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def serve(state: StandIn) -> Iterator[StandIn]:
    """Run the stand-in on 127.0.0.1 and a free port in a thread; stop it when resumed."""
    with serving(make_app(state), "standin-llm", lifespan="off") as url:
        state.base_url = f"{url}/v1"
        yield state


def with_standin_llm(settings: Settings, state: StandIn) -> Settings:
    """Return settings whose LLM is the stand-in (OpenAI-compatible, no retries)."""
    return settings.model_copy(
        update={
            "llm": "openai:stand-in",
            "llm_base_url": state.base_url,
            "llm_api_key": "test-key",
            "llm_timeout": 5.0,
            "llm_max_retries": 0,
        }
    )
