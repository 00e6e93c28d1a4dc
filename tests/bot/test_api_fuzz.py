"""Schemathesis against the app's own OpenAPI schema: no input may produce a 5xx.

The schema is read from an app built without an index (building it loads nothing); the
requests go to an app over the real seed index. Questions are capped at 200 characters
here (the setting, reflected in the schema) so that the bounded examples stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.api import create_app
from bot.assistant import Assistant
from bot.feedback import FeedbackStore
from ingest.settings import Settings

TOKEN = "fuzz-admin-token"
LIMITS = {"admin_token": SecretStr(TOKEN), "max_question_chars": 200}

schema = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path("unused"), **LIMITS)).openapi()  # type: ignore[arg-type]
).exclude(path="/api/admin/reindex", method="POST")  # re-ingesting is tested on its own


@pytest.fixture(scope="module")
def app(
    seed_index: Settings, bundled_embedder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    assistant = Assistant.open(seed_index, bundled_embedder)
    feedback = FeedbackStore.open(tmp_path_factory.mktemp("fuzz") / "feedback.sqlite3")
    yield create_app(seed_index.model_copy(update=LIMITS), assistant, feedback)
    feedback.close()
    assistant.close()


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_makes_a_server_error(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
