"""Stream an answer as Server-Sent Events: text as it is produced, then the verified answer.

The answer is computed by Assistant.ask itself (the same code path as POST /api/ask), on the
service's worker thread. With the LLM answerer, ask runs through a per-call Assistant whose
answerer tees the model's chunks to the client as they arrive; the extractive answerer
produces its answer at once, which is then sent sentence by sentence. Either way the client
replaces the streamed text with the verified answer of the `answer` event. (With the LLM
answerer the worker is busy for the model's whole answer, as for POST /api/ask.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from bot.assistant import Assistant
from bot.llm import LLMAnswerer
from bot.records import Answer, AnswererName, Turn
from bot.retrieve import Hit
from bot.service import Service
from ingest.errors import HelpdeskError

log = logging.getLogger(__name__)
Emit = Callable[[str], None]

# A piece ends after its citation markers or at a line break; the pieces join to the text.
_PIECE = re.compile(r".*?(?:(?:\[\d+\])+|\n|$)", re.S)


def sse(event: str, data: object) -> str:
    """Return one Server-Sent Event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def pieces(text: str) -> list[str]:
    """Split an answer into its cited sentences (and lines), keeping every character."""
    return [m.group() for m in _PIECE.finditer(text) if m.group()]


async def guarded(events: AsyncIterator[str], error: Callable[[str], str]) -> AsyncIterator[str]:
    """Yield the events; end a failed stream with an error event instead of cutting it off."""
    try:
        async for event in events:
            yield event
    except HelpdeskError as err:
        yield error(str(err))
    except Exception:
        # The one broad catch: the 200 status line is already sent, so a well-formed error
        # event is the only way left to tell the client; the traceback goes to the log.
        log.exception("an answer stream failed")
        yield error("internal error: the answer could not be completed")


class _Tee:
    """An answerer that streams the LLM's chunks to emit, then returns the verified answer."""

    def __init__(self, inner: LLMAnswerer, emit: Emit) -> None:
        self.inner = inner
        self.emit = emit
        self.name: AnswererName = inner.name

    def answer(self, question: str, query: str, hits: Sequence[Hit]) -> Answer:
        """Answer through the model's stream, emitting each chunk."""
        stream = self.inner.stream(question, query, hits)
        for chunk in stream:
            self.emit(chunk)
        return stream.answer()


def _ask_teeing(assistant: Assistant, question: str, history: Sequence[Turn], emit: Emit) -> Answer:
    """Ask the assistant, streaming the LLM answerer's chunks through emit."""
    if isinstance(assistant.answerer, LLMAnswerer):
        tee = _Tee(assistant.answerer, emit)
        assistant = Assistant(
            assistant.retriever, assistant.extractive, assistant.settings, tee, assistant.rewriter
        )
    return assistant.ask(question, history)


async def stream_answer(
    service: Service,
    question: str,
    history: Sequence[Turn],
    record: Callable[[Answer], Awaitable[dict[str, object]]],
) -> AsyncIterator[str]:
    """Yield delta events as the answer is produced, then the answer and done events.

    record stores the answer and returns its ask JSON with the new "id".
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[str] = asyncio.Queue()

    def emit(chunk: str) -> None:
        loop.call_soon_threadsafe(chunks.put_nowait, chunk)

    streamed = False
    with service.lease() as assistant:
        job = asyncio.ensure_future(
            service.on_worker(_ask_teeing, assistant, question, history, emit)
        )
        try:
            while not job.done() or not chunks.empty():
                if chunks.empty():
                    waiter = asyncio.ensure_future(chunks.get())
                    await asyncio.wait({waiter, job}, return_when=asyncio.FIRST_COMPLETED)
                    if not waiter.done():
                        waiter.cancel()
                        continue
                    chunk = waiter.result()
                else:
                    chunk = chunks.get_nowait()
                streamed = True
                yield sse("delta", {"text": chunk})
            answer = job.result()
        finally:
            job.cancel()  # a client gone mid-stream: the worker finishes, nobody waits
    if not streamed:
        for piece in pieces(answer.text):
            yield sse("delta", {"text": piece})
    data = await record(answer)
    yield sse("answer", data)
    yield sse("done", {"id": data["id"]})
