"""`helpdesk serve --workers N`: several worker processes over one index.

In-process: the worker app names its pid and, over a local Chroma store, refuses the admin
re-index. Real processes: two workers share a real `chroma run` server, both answer, and a
re-index through one of them has every worker replaced by one that loads the new index.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.serve import NO_LOCAL_REINDEX, ReindexLock, worker_app
from ingest.settings import Settings
from tests.servers import ADMIN_TOKEN, HelpdeskServer, chroma_server

ROOT = Path(__file__).parents[2]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MDF = "MDF核销有效期多长?"
NEW_PAGE = "# 星河奖励计划\n\n星河奖励计划的报名截止日期为每年5月20日，逾期提交的报名不再受理。\n"
NEW_QUESTION = "星河奖励计划的报名截止日期是哪天?"


def test_a_reindex_lock_is_held_by_one_claim_at_a_time(tmp_path: Path) -> None:
    first, second = ReindexLock(tmp_path / "reindex.lock"), ReindexLock(tmp_path / "reindex.lock")
    assert first.claim() is True
    assert second.claim() is False  # flock: another open file, as in another process
    assert first.claim() is False
    first.release()
    assert second.claim() is True
    second.release()
    second.release()  # releasing twice is harmless


def test_a_worker_over_a_local_chroma_names_itself_and_refuses_reindex(
    seed_index: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    shutil.copytree(seed_index.data_dir, data)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(data))
    monkeypatch.setenv("HELPDESK_CORPUS", str(seed_index.corpus))
    monkeypatch.setenv("HELPDESK_ADMIN_TOKEN", ADMIN_TOKEN)
    with TestClient(worker_app()) as client:
        asked = client.post("/api/ask", json={"question": MDF})
        assert asked.status_code == 200 and "90天" in asked.json()["answer"]
        assert asked.headers["x-helpdesk-worker"] == str(os.getpid())
        assert client.post("/api/admin/reindex").status_code == 401  # the token still comes first
        refused = client.post("/api/admin/reindex", headers=AUTH)
        assert (refused.status_code, refused.json()["message"]) == (409, NO_LOCAL_REINDEX)
        assert client.get("/api/admin/reindex", headers=AUTH).json()["state"] == "idle"
        assert client.get("/api/admin/gaps", headers=AUTH).status_code == 200


def ask(base: str, question: str) -> tuple[int, dict[str, Any]]:
    """Ask on a new connection (so that any worker may accept it); return (worker pid, JSON)."""
    r = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=30)
    assert r.status_code == 200, r.text
    return int(r.headers["x-helpdesk-worker"]), r.json()


def answers_from_every_worker(base: str, question: str, fact: str) -> set[int]:
    """Ask until two workers have answered (at most 40 asks); check every answer cites fact."""
    pids: set[int] = set()
    for _ in range(40):
        pid, body = ask(base, question)
        assert not body["refused"] and fact in body["answer"], body
        assert body["citations"] and fact in body["citations"][0]["text"]
        pids.add(pid)
        if len(pids) == 2:
            break
    return pids


@pytest.mark.slow
def test_two_workers_share_a_chroma_server_and_reload_after_a_reindex(
    tmp_path: Path, bundled_embedder: Any
) -> None:
    from ingest.pipeline import run_ingest

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    with chroma_server(tmp_path) as chroma_url:
        settings = Settings(data_dir=tmp_path / "data", corpus=corpus, chroma_url=chroma_url)
        run_ingest([corpus], settings, embedder=bundled_embedder)
        assert not (settings.data_dir / "chroma").exists()  # the vectors are on the server
        log = tmp_path / "serve.log"
        env = {"HELPDESK_CHROMA_URL": chroma_url}
        workers = ["--workers", "2"]
        with HelpdeskServer(settings.data_dir, corpus, log, args=workers, env=env) as server:
            base = server.url
            first = answers_from_every_worker(base, MDF, "90天")
            assert len(first) == 2, "one worker answered every request"

            (corpus / "xinghe.md").write_text(NEW_PAGE, encoding="utf-8")
            started = httpx.post(f"{base}/api/admin/reindex", headers=AUTH, timeout=10)
            assert started.status_code == 202, started.text
            # Done, the re-indexing worker has uvicorn replace both workers one by one.
            deadline = time.monotonic() + 60
            while True:
                recent = _recent_pids(base)
                if len(recent) == 2 and not recent & first:
                    break
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
            # A worker being replaced may still take a connection: ask until a new one answers.
            for _ in range(40):
                reply = httpx.get(f"{base}/api/admin/reindex", headers=AUTH, timeout=5)
                if int(reply.headers["x-helpdesk-worker"]) in recent:
                    break
                time.sleep(0.2)
            # A fresh worker: the re-index ran in its predecessor.
            assert int(reply.headers["x-helpdesk-worker"]) in recent
            assert reply.json()["state"] == "idle"
            assert httpx.get(f"{base}/healthz", timeout=5).json()["passages"] == 19
            assert answers_from_every_worker(base, NEW_QUESTION, "5月20日") == recent
    log = (tmp_path / "serve.log").read_text()
    assert "Received SIGHUP, restarting processes." in log
    assert "workers:  2 processes, the Chroma server" in log


def _recent_pids(base: str, asks: int = 20) -> set[int]:
    """Return the pids of the workers that answer /healthz on new connections."""
    pids = set()
    for _ in range(asks):
        pids.add(int(httpx.get(f"{base}/healthz", timeout=5).headers["x-helpdesk-worker"]))
        if len(pids) == 2:
            break
    return pids
