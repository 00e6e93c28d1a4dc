"""The HTTP service: JSON and streaming answers, search, feedback, health, widget and pages.

create_app(settings) builds the FastAPI app; its lifespan opens the Assistant once (an app
built with an Assistant, as in the tests, uses that one). The admin routes live in
bot/routes_admin.py, the OpenAI-compatible endpoint in bot/routes_openai.py.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.assistant import Assistant
from bot.commands import hit_json
from bot.deps import AppState, State, check_length, recent_turns, record
from bot.feedback import FILENAME, FeedbackStore
from bot.records import Answer
from bot.reindex import Reindexer
from bot.routes_admin import router as admin_router
from bot.routes_openai import router as openai_router
from bot.schemas import (
    AskRequest,
    AskResponse,
    BreadcrumbsResponse,
    ChatRequest,
    ErrorResponse,
    FeedbackRequest,
    Health,
    OkResponse,
    SearchRequest,
    SearchResponse,
)
from bot.service import Service
from bot.streaming import guarded, sse, stream_answer
from ingest.errors import HelpdeskError, IndexMissingError
from ingest.settings import Settings

MAX_BODY_BYTES = 1 << 20  # a question with a long conversation is a few tens of kB
FILTER_CANDIDATES = 200  # passages searched when a breadcrumb filter may drop most of them
Responses = dict[int | str, dict[str, Any]]
ERRORS: Responses = {422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}
LIMITED = (("AskRequest", "question"), ("ChatRequest", "question"), ("SearchRequest", "query"))
SSE_DOC: Responses = {
    200: {
        "description": "Server-Sent Events: delta (text so far), answer (the ask JSON with its "
        "id), done ({id}); or error ({message}).",
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"enum": ["delta", "answer", "done", "error"]},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
    },
    **ERRORS,
}

router = APIRouter()


@router.post("/api/ask", response_model=AskResponse, responses=ERRORS)
async def ask(body: AskRequest, st: State) -> dict[str, object]:
    """Answer a question from the help pages, with citations (or refuse)."""
    service, feedback, _ = st.ready()
    check_length("question", body.question, st.settings.max_question_chars)
    history = recent_turns(body.history, st.settings)
    answer = await service.call(lambda a: a.ask(body.question, history, body.k))
    return await record(feedback, body.question, answer, "api")


@router.post("/api/chat/stream", response_class=StreamingResponse, responses=SSE_DOC)
async def chat_stream(body: ChatRequest, st: State) -> StreamingResponse:
    """Stream an answer: delta events, then the verified answer, then done (with its id)."""
    service, feedback, _ = st.ready()
    check_length("question", body.question, st.settings.max_question_chars)
    if service.assistant is None:  # say it with a status code while one can still be sent
        raise IndexMissingError(service.missing)
    history = recent_turns(body.history, st.settings)

    async def store(answer: Answer) -> dict[str, object]:
        return await record(feedback, body.question, answer, "stream")

    events = stream_answer(service, body.question, history, store)
    return StreamingResponse(
        guarded(events, lambda message: sse("error", {"message": message})),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/api/search", response_model=SearchResponse, responses=ERRORS)
async def search(body: SearchRequest, st: State) -> dict[str, object]:
    """Rank passages for a query, optionally within a breadcrumb and its sub-topics."""
    service, _, _ = st.ready()
    check_length("query", body.query, st.settings.max_question_chars)
    within = body.breadcrumb.strip() if body.breadcrumb else ""
    n = max(body.k, FILTER_CANDIDATES) if within else body.k
    hits = await service.call(lambda a: a.retriever.search(body.query, n))
    if within:
        hits = [
            h
            for h in hits
            if h.passage.breadcrumb == within or h.passage.breadcrumb.startswith(within + " > ")
        ]
    return {"query": body.query, "hits": [hit_json(h) for h in hits[: body.k]]}


def _breadcrumbs(assistant: Assistant) -> list[str]:
    return assistant.retriever.store.breadcrumbs()


@router.get("/api/breadcrumbs", response_model=BreadcrumbsResponse, responses=ERRORS)
async def breadcrumbs(st: State) -> dict[str, object]:
    """List the distinct breadcrumbs of the stored passages (the console's filter)."""
    service, _, _ = st.ready()
    return {"breadcrumbs": await service.call(_breadcrumbs)}


@router.post(
    "/api/feedback",
    status_code=201,
    response_model=OkResponse,
    responses={404: {"model": ErrorResponse}, **ERRORS},
)
async def feedback(body: FeedbackRequest, st: State) -> dict[str, object]:
    """Rate an answer up or down, with an optional comment."""
    _, store, _ = st.ready()
    if not await run_in_threadpool(store.add_feedback, body.answer_id, body.rating, body.comment):
        raise HTTPException(404, f"no answer has the id {body.answer_id!r}")
    return {"ok": True}


@router.get("/healthz", response_model=Health)
async def healthz(st: State) -> dict[str, object]:
    """Report whether the index is loaded, its size, the embedding model and the version."""
    service, _, _ = st.ready()
    current = service.assistant
    passages = 0
    model = st.settings.embed_model
    if current is not None:
        passages = await service.call(lambda a: a.retriever.store.passage_count())
        model = current.retriever.embedder.model_id if current.retriever.embedder else model
    return {
        "status": "ok",
        "index_loaded": current is not None,
        "passages": passages,
        "embedding_model": model,
        "version": version(),
    }


@functools.cache
def version() -> str:
    """Return the installed version of the package."""
    try:
        return importlib.metadata.version("helpdesk")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _static(st: AppState, name: str, media_type: str) -> FileResponse:
    path = st.static_dir / name
    if not path.is_file():
        raise HTTPException(404, f"{name} is not installed: bot/static/{name} is missing")
    return FileResponse(path, media_type=media_type)


@router.get("/widget.js", include_in_schema=False)
async def widget(st: State) -> FileResponse:
    """Serve the embeddable chat widget."""
    return _static(st, "widget.js", "text/javascript; charset=utf-8")


@router.get("/", include_in_schema=False)
async def demo(st: State) -> FileResponse:
    """Serve the demo host page that embeds the widget."""
    return _static(st, "demo.html", "text/html; charset=utf-8")


@router.get("/console", include_in_schema=False)
async def console(st: State) -> FileResponse:
    """Serve the support agents' console."""
    return _static(st, "console.html", "text/html; charset=utf-8")


def _error(status: int, message: str, detail: object = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": detail}, status_code=status)


async def _helpdesk_error(request: Request, exc: Exception) -> JSONResponse:
    """Turn the product's own errors into a 503 with their message (never a 500)."""
    return _error(503, str(exc), type(exc).__name__)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer with the message of an HTTPException (FastAPI's own ones included)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI says 400 for a body that is not UTF-8; to a client it is malformed JSON.
        return _error(422, "the body is not valid JSON: it is not UTF-8 text", "json_invalid")
    response = _error(exc.status_code, str(exc.detail), exc.detail)
    response.headers.update(exc.headers or {})
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 with a one-line message; the inputs are not echoed back."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: v for k, v in e.items() if k in ("type", "loc", "msg", "ctx")} for e in exc.errors()
    ]
    return _error(422, _message(errors), jsonable_encoder(errors, custom_encoder={Exception: str}))


def _message(errors: list[dict[str, Any]]) -> str:
    """Say what is wrong with the request in one line: field, then problem."""
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        position = first["loc"][-1] if first.get("loc") else "?"
        reason = (first.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON at character {position}: {reason}"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def create_app(
    settings: Settings,
    assistant: Assistant | None = None,
    feedback: FeedbackStore | None = None,
) -> FastAPI:
    """Build the app; its lifespan opens what was not given (Assistant, feedback store)."""
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if assistant is not None:
            service = Service(assistant, owned=False)
        else:
            service = await run_in_threadpool(open_service, settings)
        store = feedback or FeedbackStore.open(settings.data_dir / FILENAME)
        state.service, state.feedback = service, store
        state.reindexer = Reindexer(settings, service)
        try:
            yield
        finally:
            state.service = state.feedback = state.reindexer = None
            service.close()  # its worker thread, and the Assistants it opened
            if feedback is None:
                store.close()

    app = FastAPI(
        title="Help-desk assistant",
        version=version(),
        description="Cited answers from the partner-center help pages.",
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.helpdesk = state
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization"],
    )
    app.add_exception_handler(HelpdeskError, _helpdesk_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(router)
    app.include_router(openai_router)
    app.include_router(admin_router)

    def openapi() -> dict[str, Any]:
        """Return the OpenAPI schema, with the question limit of these settings."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            models = schema["components"]["schemas"]
            for model, name in LIMITED:
                models[model]["properties"][name]["maxLength"] = settings.max_question_chars
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def open_service(settings: Settings) -> Service:
    """Open the Assistant; without an index, serve 503s until a re-index builds one."""
    try:
        return Service(Assistant.open(settings), owned=True)
    except IndexMissingError as err:
        return Service(None, owned=True, missing=str(err))
