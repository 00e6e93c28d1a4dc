"""What the routes share: the app's state, input checks that depend on settings, recording."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from bot.feedback import FeedbackStore
from bot.records import Answer, Turn
from bot.reindex import Reindexer
from bot.render import answer_json
from bot.schemas import Message
from bot.service import Service
from ingest.settings import Settings


@dataclass
class AppState:
    """The settings, the Assistant's service, the feedback store and the re-indexer."""

    settings: Settings
    service: Service | None = None
    feedback: FeedbackStore | None = None
    reindexer: Reindexer | None = None
    static_dir: Path = Path(__file__).parent / "static"  # widget.js, demo.html, console.html

    def ready(self) -> tuple[Service, FeedbackStore, Reindexer]:
        """Return the parts that the lifespan (or the test) provided."""
        assert self.service and self.feedback and self.reindexer, "the app has not started"
        return self.service, self.feedback, self.reindexer


def get_state(request: Request) -> AppState:
    """Return the app's state (a dependency)."""
    state: AppState = request.app.state.helpdesk
    return state


State = Annotated[AppState, Depends(get_state)]


def check_length(field_name: str, value: str, limit: int) -> None:
    """Raise a 422 validation error when value is longer than limit characters."""
    if len(value) > limit:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("body", field_name),
                    "msg": f"must be at most {limit} characters (got {len(value)})",
                    "ctx": {"max_length": limit},
                }
            ]
        )


def keep_recent(turns: Sequence[Turn], settings: Settings) -> list[Turn]:
    """Return the last history_turns turns (older ones are dropped, no error)."""
    keep = settings.history_turns
    return list(turns[len(turns) - keep :]) if keep else []


def recent_turns(history: Sequence[Message], settings: Settings) -> list[Turn]:
    """Return the last history_turns messages as Turns."""
    return keep_recent([Turn(m.role, m.content) for m in history], settings)


async def record(
    feedback: FeedbackStore, question: str, answer: Answer, channel: str
) -> dict[str, object]:
    """Store the answer for feedback; return its ask JSON with the new "id"."""
    data = answer_json(answer)
    answer_id = await run_in_threadpool(feedback.record_answer, question, data, channel)
    return {"id": answer_id, **data}
