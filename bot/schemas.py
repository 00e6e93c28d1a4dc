"""Request and response models of the HTTP API (pydantic stays at this edge)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_TURN_CHARS = 8000  # one earlier message of a conversation (answers run to ~2,000)
MAX_COMMENT_CHARS = 2000


def _valid_text(value: str) -> str:
    """Reject text that cannot be stored or sent back as UTF-8 (lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text holds invalid characters (lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


Text = Annotated[str, AfterValidator(_valid_text)]
Question = Annotated[
    str,
    AfterValidator(_valid_text),
    AfterValidator(_not_blank),
    Field(description="Not blank; at most HELPDESK_MAX_QUESTION_CHARS (2,000) characters."),
]


class Message(BaseModel):
    """An earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: Annotated[Text, Field(max_length=MAX_TURN_CHARS)]


class AskRequest(BaseModel):
    """A question, with the conversation so far (older turns beyond the limit are dropped)."""

    question: Question
    history: list[Message] = Field(default_factory=list)
    k: int = Field(5, ge=1, le=50, description="Passages retrieved.")


class ChatRequest(BaseModel):
    """A question for the streaming chat, with the conversation so far."""

    question: Question
    history: list[Message] = Field(default_factory=list)


class SearchRequest(BaseModel):
    """A search of the passages, optionally within a breadcrumb (and its sub-topics)."""

    query: Question
    k: int = Field(10, ge=1, le=100)
    breadcrumb: Text | None = None


class FeedbackRequest(BaseModel):
    """A partner's rating of an answer."""

    answer_id: Annotated[Text, Field(max_length=64)]
    rating: Literal["up", "down"]
    comment: Annotated[Text, Field(max_length=MAX_COMMENT_CHARS)] = ""


class Source(BaseModel):
    """Where a cited passage stands."""

    path: str | None
    url: str | None


class CitationOut(BaseModel):
    """A numbered citation: the passage and the exact quote the answer relies on."""

    n: int
    passage_id: str
    quote: str
    text: str
    title: str
    breadcrumb: str
    source: Source


class AskHit(BaseModel):
    """A retrieved passage behind an answer."""

    passage_id: str
    score: float
    title: str
    text: str


class AskResponse(BaseModel):
    """The ask JSON (as `helpdesk ask --json`) and the id to send feedback on."""

    id: str
    answer: str
    refused: bool
    citations: list[CitationOut]
    hits: list[AskHit]
    query: str
    answerer: str
    reason: str
    suggestions: list[str]
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The reading model's probability that the best passage answers the "
        "question; null when the reading model is off.",
    )


class HitSource(BaseModel):
    """Where a passage stands in its page."""

    path: str
    url: str | None
    start: int
    end: int


class Ranks(BaseModel):
    """The rank of a hit in each retriever (null when that retriever did not return it)."""

    lexical: int | None
    dense: int | None


class SearchHit(BaseModel):
    """A ranked passage (as `helpdesk search --json`)."""

    passage_id: str
    score: float
    title: str
    breadcrumb: str
    text: str
    source: HitSource | None
    ranks: Ranks


class SearchResponse(BaseModel):
    """The ranked passages for a query."""

    query: str
    hits: list[SearchHit]


class BreadcrumbsResponse(BaseModel):
    """The distinct breadcrumbs of the stored passages."""

    breadcrumbs: list[str]


class OkResponse(BaseModel):
    """An acknowledgement."""

    ok: bool


class Health(BaseModel):
    """Whether the service can answer."""

    status: Literal["ok"]
    index_loaded: bool
    passages: int
    embedding_model: str
    version: str


class ErrorResponse(BaseModel):
    """Every error: a message a person can act on, and the details."""

    message: str
    detail: Any = None


class ReindexStatusOut(BaseModel):
    """Where the last re-index stands."""

    state: Literal["idle", "running", "done", "failed"]
    started: str | None
    finished: str | None
    report: dict[str, Any] | None
    error: str | None


class GapOut(BaseModel):
    """A cluster of similar questions the pages did not serve."""

    question: str
    count: int
    refused: int
    down: int
    questions: list[str]
    last_seen: str
    answer_ids: list[str]


class GapsResponse(BaseModel):
    """Unanswered questions grouped by similarity, most frequent first."""

    gaps: list[GapOut]
    questions: int


class FeedbackItem(BaseModel):
    """One rating with the question and answer it is about."""

    id: int
    answer_id: str
    created: str
    rating: Literal["up", "down"]
    comment: str
    question: str
    answer: str
    refused: bool


class FeedbackList(BaseModel):
    """Recent ratings, newest first."""

    feedback: list[FeedbackItem]


class ContentPart(BaseModel):
    """A part of an OpenAI message (only text parts are read)."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    """An OpenAI chat message."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: Text | list[ContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; the last user message is the question."""

    model_config = ConfigDict(extra="allow")  # temperature, max_tokens ... are ignored

    model: Annotated[Text, Field(max_length=200)] = "helpdesk"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
