"""`helpdesk run` (what `make run` starts): ingest a fresh corpus, then serve it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_ingests_then_serves_the_demo_console_and_api(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "data"),
        "HELPDESK_CORPUS": str(corpus),
        "HF_HUB_OFFLINE": "1",
    }
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp_path / "run.log").read_text()
                assert time.monotonic() < deadline, "helpdesk run did not come up"
                time.sleep(0.5)
        assert health["index_loaded"] and health["passages"] == 18
        assert httpx.get(f"{base}/", timeout=5).status_code == 200
        assert httpx.get(f"{base}/console", timeout=5).status_code == 200
        answer = httpx.post(f"{base}/api/ask", json={"question": "MDF核销有效期多长?"}, timeout=30)
        assert "90天" in answer.json()["answer"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert "22 split -> 18 kept" in output
    assert f"{base}/console" in output and f"{base}/docs" in output
