"""Admin endpoints behind `Authorization: Bearer $HELPDESK_ADMIN_TOKEN`: re-index, gaps, feedback.

Without a configured token the admin endpoints are disabled (403 saying how to enable them);
a missing or wrong token gets 401.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.deps import AppState, State
from bot.gaps import group_gaps
from bot.schemas import ErrorResponse, FeedbackList, GapsResponse, ReindexStatusOut

bearer = HTTPBearer(auto_error=False, description="The HELPDESK_ADMIN_TOKEN.")


def require_admin(
    st: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> AppState:
    """Let the request through only with the configured admin token."""
    token = st.settings.admin_token.get_secret_value() if st.settings.admin_token else ""
    if not token:
        raise HTTPException(
            403, "the admin endpoints are disabled: set HELPDESK_ADMIN_TOKEN to enable them"
        )
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401,
            "a valid admin token is required: Authorization: Bearer <HELPDESK_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return st


Admin = Annotated[AppState, Depends(require_admin)]
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}
router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERRORS)


@router.post(
    "/reindex",
    status_code=202,
    response_model=ReindexStatusOut,
    responses={409: {"model": ErrorResponse}},
)
async def start_reindex(st: Admin) -> dict[str, object]:
    """Re-ingest the corpus in the background; the current index serves until it completes."""
    _, _, reindexer = st.ready()
    if not reindexer.start():
        raise HTTPException(409, "a re-index is already running: GET /api/admin/reindex")
    return dataclasses.asdict(reindexer.status)


@router.get("/reindex", response_model=ReindexStatusOut)
async def reindex_status(st: Admin) -> dict[str, object]:
    """Report the state of the running or last re-index."""
    _, _, reindexer = st.ready()
    return dataclasses.asdict(reindexer.status)


@router.get("/gaps", response_model=GapsResponse)
async def gaps(st: Admin, limit: Annotated[int, Query(ge=1, le=10000)] = 2000) -> dict[str, object]:
    """Group the latest refused and thumbs-down questions by similarity, most frequent first."""
    _, feedback, _ = st.ready()
    items = await run_in_threadpool(feedback.gap_questions, limit)
    groups = await run_in_threadpool(group_gaps, items)
    return {"gaps": [dataclasses.asdict(g) for g in groups], "questions": len(items)}


@router.get("/feedback", response_model=FeedbackList)
async def recent_feedback(
    st: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, object]:
    """List the latest ratings with their questions, answers and comments."""
    _, feedback, _ = st.ready()
    rows = await run_in_threadpool(feedback.recent_feedback, limit)
    return {"feedback": [dataclasses.asdict(r) for r in rows]}
