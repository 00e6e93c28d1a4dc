"""Server under load: concurrent clients replay the dev questions against a real `helpdesk serve`.

Usage: python -m bench.bench_load [CLIENTS] [SECONDS]   (default: 20 clients for 30 s)

The server runs in its own process on 127.0.0.1 over the seed corpus indexed with the real
bundled model; the load generator (httpx, asyncio) stops by itself after SECONDS and sends
nothing but to that loopback address. Also measured: `helpdesk ask` cold from a fresh
process and the time until `/healthz` answers.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import write_result

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Return a process's resident memory (or its peak, with VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def client(
    base: str, questions: list[str], stop: float, out: list[float], errors: list[str], offset: int
) -> None:
    """Ask questions in turn until the deadline; record latencies and errors."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        i = offset
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                r = await http.post("/api/ask", json={"question": questions[i % len(questions)]})
                if r.status_code != 200:
                    errors.append(str(r.status_code))
            except httpx.HTTPError as err:
                errors.append(type(err).__name__)
            out.append((time.perf_counter() - t) * 1000)
            i += 1


async def load(base: str, questions: list[str], clients: int, seconds: float) -> dict[str, object]:
    """Run the clients for the given time; return throughput and latency figures."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(client(base, questions, stop, latencies, errors, k * 7) for k in range(clients))
    )
    wall = time.perf_counter() - start
    arr = np.asarray(latencies)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / wall, 1),
        "errors": len(errors),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
    }


def main(argv: list[str]) -> None:
    """Index the seed, start the server, measure cold start and the load, print the table."""
    from eval.faqset import load_faq
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    clients = int(argv[0]) if argv else 20
    seconds = float(argv[1]) if len(argv) > 1 else 30.0
    questions = [c.question for c in load_faq(ROOT / "eval" / "faq" / "dev.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = Settings(data_dir=Path(tmp) / "data", corpus=corpus)
        run_ingest([corpus], settings)
        env = {
            **os.environ,
            "HELPDESK_DATA_DIR": str(settings.data_dir),
            "HELPDESK_CORPUS": str(corpus),
            "HF_HUB_OFFLINE": "1",
        }
        cli = [sys.executable, "-c", "from bot.cli import main; main()"]
        cold = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(
                [*cli, "ask", "MDF核销有效期多长?"],
                env=env,
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            cold.append(time.perf_counter() - t)
        port = free_port()
        t = time.perf_counter()
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            ready = time.perf_counter() - t
            idle_rss = rss_mb(server.pid)
            result = asyncio.run(load(base, questions, clients, seconds))
            peak = rss_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=20)
    row = {
        **result,
        "ask_cold_s": round(statistics.median(cold), 2),
        "serve_ready_s": round(ready, 2),
        "rss_idle_mb": round(idle_rss),
        "rss_peak_mb": round(peak),
    }
    print(
        f"{'clients':>7} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'RSS MB':>7} {'ask cold s':>10} {'ready s':>7}"
    )
    print(
        f"{row['clients']:>7} {row['req_per_s']:>6} {row['p50_ms']:>7} {row['p95_ms']:>7} "
        f"{row['p99_ms']:>7} {row['errors']:>6} {row['rss_peak_mb']:>7} "
        f"{row['ask_cold_s']:>10} {row['serve_ready_s']:>7}"
    )
    print("wrote", write_result("load", {"runs": [row]}))


if __name__ == "__main__":
    main(sys.argv[1:])
