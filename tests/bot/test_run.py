"""`helpdesk run` (what `make run` starts): ingest a fresh corpus, then serve it."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from tests.servers import HelpdeskServer

ROOT = Path(__file__).parents[2]


def test_run_ingests_then_serves_the_demo_console_and_api(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    server = HelpdeskServer(tmp_path / "data", corpus, tmp_path / "run.log", command="run")
    try:
        server.wait_ready(timeout=90)
        base = server.url
        health = httpx.get(f"{base}/healthz", timeout=5).json()
        assert health["index_loaded"] and health["passages"] == 18
        assert httpx.get(f"{base}/", timeout=5).status_code == 200
        assert httpx.get(f"{base}/console", timeout=5).status_code == 200
        answer = httpx.post(f"{base}/api/ask", json={"question": "MDF核销有效期多长?"}, timeout=30)
        assert "90天" in answer.json()["answer"]
    finally:
        server.stop()
    output = (tmp_path / "run.log").read_text()
    assert "22 split -> 18 kept" in output
    assert f"{base}/console" in output and f"{base}/docs" in output
