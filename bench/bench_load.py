"""Server under load: concurrent clients replay the dev questions against a real `helpdesk serve`.

Usage: python -m bench.bench_load [CLIENTS] [SECONDS] [--workers N ...] [--server-workers N ...]
(default: 20 clients for 30 s against 1 and 2 workers over the local Chroma store, then 2
workers sharing a `chroma run` server)

Each server runs in its own process tree on 127.0.0.1 over the seed corpus indexed with the
real bundled model; the load generator (httpx, asyncio) stops by itself after SECONDS and
sends nothing but to that loopback address. Memory is summed over the server's processes
(uvicorn's supervisor and its workers); the Chroma server's is given apart. Every worker answers
one question before the clients start (its first ask loads jieba and the indexes). Also
measured: `helpdesk ask` cold from a fresh process and the time until `/healthz` answers (and until
every worker has answered it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import httpx
import numpy as np

from bench.common import rss_mb, write_result

ROOT = Path(__file__).parents[1]
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
WORKER_HEADER = "x-helpdesk-worker"  # set by multi-worker servers (bot/serve.py)
# Clients connect 50 ms apart. Connecting all at once, one worker's event loop accepts every
# pending connection in one wake-up (asyncio accepts up to the backlog) and keeps them all.
RAMP_S = 0.05


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(root: int) -> list[int]:
    """Return root and every process descended from it (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def tree_rss_mb(root: int, field: str = "VmRSS") -> float:
    """Return the memory of a process tree: the sum over its processes."""
    return sum(rss_mb(pid, field) for pid in process_tree(root))


async def client(
    base: str,
    questions: list[str],
    stop: float,
    out: list[float],
    errors: list[str],
    served: Counter[str],
    offset: int,
) -> None:
    """Ask questions in turn until the deadline; record latencies, errors and workers."""
    await asyncio.sleep(offset * RAMP_S)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        i = offset * 7
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                r = await http.post("/api/ask", json={"question": questions[i % len(questions)]})
                if r.status_code != 200:
                    errors.append(str(r.status_code))
                served[r.headers.get(WORKER_HEADER, "single")] += 1
            except httpx.HTTPError as err:
                errors.append(type(err).__name__)
            out.append((time.perf_counter() - t) * 1000)
            i += 1


async def load(base: str, questions: list[str], clients: int, seconds: float) -> dict[str, object]:
    """Run the clients for the given time; return throughput and latency figures."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    served: Counter[str] = Counter()
    start = time.perf_counter()
    await asyncio.gather(
        *(client(base, questions, stop, latencies, errors, served, k * 7) for k in range(clients))
    )
    wall = time.perf_counter() - start
    arr = np.asarray(latencies)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / wall, 1),
        "errors": len(errors),
        "error_kinds": dict(Counter(errors)),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "requests_by_worker": sorted(served.values(), reverse=True),
    }


@contextmanager
def chroma_server(directory: Path) -> Iterator[tuple[str, int]]:
    """Run `chroma run` on a free loopback port; yield its URL and pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).parent / "chroma"
    args = ["run", "--path", str(directory / "chroma-db"), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [str(chroma), *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chroma run did not come up")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wait_ready(base: str, server: subprocess.Popen[bytes], workers: int) -> tuple[float, float]:
    """Return seconds until /healthz answers, and until every worker has answered it."""
    t = time.perf_counter()
    first = None
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("helpdesk serve did not come up")
        try:
            r = httpx.get(f"{base}/healthz", timeout=1)  # a new connection: any worker
            if r.status_code == 200:
                first = first or time.perf_counter() - t
                seen.add(r.headers.get(WORKER_HEADER, "single"))
                if len(seen) >= workers:
                    return first, time.perf_counter() - t
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def warm_up(base: str, question: str, workers: int) -> float:
    """Ask until every worker has answered once (jieba, bm25s and HNSW load on first use).

    Return the slowest of those first asks in ms.
    """
    seen: dict[str, float] = {}
    for _ in range(20 * workers):
        t = time.perf_counter()
        r = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=60)
        r.raise_for_status()
        seen.setdefault(r.headers.get(WORKER_HEADER, "single"), (time.perf_counter() - t) * 1000)
        if len(seen) >= workers:
            break
    return max(seen.values())


def measure(
    env: dict[str, str],
    questions: list[str],
    clients: int,
    seconds: float,
    workers: int,
    chroma_pid: int | None = None,
) -> dict[str, object]:
    """Start `helpdesk serve --workers N`, load it, and return the figures of this run."""
    port = free_port()
    load_before = os.getloadavg()[0]
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready, all_ready = wait_ready(base, server, workers)
        idle_rss = tree_rss_mb(server.pid)
        first_ask = warm_up(base, questions[0], workers)
        result = asyncio.run(load(base, questions, clients, seconds))
        tree = process_tree(server.pid)
        peaks = {pid: rss_mb(pid, "VmHWM") for pid in tree}
        row: dict[str, object] = {
            "workers": workers,
            "chroma": "server" if chroma_pid else "local",
            **result,
            "serve_ready_s": round(ready, 2),
            "all_workers_ready_s": round(all_ready, 2),
            "first_ask_ms": round(first_ask),  # the slowest worker's first answer (warm-up)
            "processes": len(tree),
            "rss_idle_mb": round(idle_rss),
            "rss_end_mb": round(tree_rss_mb(server.pid)),
            # each process's peak, summed: an upper bound of the tree's peak
            "rss_peak_mb": round(sum(peaks.values())),
            "rss_peak_by_process_mb": sorted((round(v) for v in peaks.values()), reverse=True),
            "load_avg_before": round(load_before, 2),  # other jobs on the machine: noise
        }
        if chroma_pid:
            row["chroma_server_rss_mb"] = round(rss_mb(chroma_pid))
        return row
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def cold_ask(env: dict[str, str], runs: int = 3) -> float:
    """Return the median seconds of `helpdesk ask` from a fresh process."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(
            [*CLI, "ask", "MDF核销有效期多长?"], env=env, check=True, capture_output=True, cwd=ROOT
        )
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def parse(argv: list[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load")
    parser.add_argument("clients", nargs="?", type=int, default=20)
    parser.add_argument("seconds", nargs="?", type=float, default=30.0)
    parser.add_argument(
        "--workers", nargs="+", type=int, default=[1, 2], help="over the local Chroma store"
    )
    parser.add_argument(
        "--server-workers",
        nargs="*",
        type=int,
        default=[2],
        help="sharing a `chroma run` server (none: give the flag alone)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    """Index the seed, measure cold start, then load each server; print and write the table."""
    from eval.faqset import load_faq
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    args = parse(argv)
    questions = [c.question for c in load_faq(ROOT / "eval" / "faq" / "dev.jsonl")]
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = Settings(data_dir=tmp / "data", corpus=corpus)
        run_ingest([corpus], settings)
        env = {
            **os.environ,
            "HELPDESK_DATA_DIR": str(settings.data_dir),
            "HELPDESK_CORPUS": str(corpus),
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("HELPDESK_CHROMA_URL", None)
        ask_cold = cold_ask(env)
        for workers in args.workers:
            rows.append(measure(env, questions, args.clients, args.seconds, workers))
        if args.server_workers:
            with chroma_server(tmp) as (url, chroma_pid):
                shared = Settings(data_dir=tmp / "data-shared", corpus=corpus, chroma_url=url)
                run_ingest([corpus], shared)
                env_shared = {
                    **env,
                    "HELPDESK_DATA_DIR": str(shared.data_dir),
                    "HELPDESK_CHROMA_URL": url,
                }
                for workers in args.server_workers:
                    rows.append(
                        measure(
                            env_shared, questions, args.clients, args.seconds, workers, chroma_pid
                        )
                    )
    for row in rows:
        row["ask_cold_s"] = round(ask_cold, 2)
    print(
        f"{'workers':>7} {'chroma':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'RSS MB':>7} {'ready s':>7} {'all ready s':>11} {'by worker':>12}"
    )
    for row in rows:
        by_worker = "/".join(map(str, cast("list[int]", row["requests_by_worker"])))
        print(
            f"{row['workers']:>7} {row['chroma']:>6} {row['req_per_s']:>6} {row['p50_ms']:>7} "
            f"{row['p95_ms']:>7} {row['p99_ms']:>7} {row['errors']:>6} {row['rss_peak_mb']:>7} "
            f"{row['serve_ready_s']:>7} {row['all_workers_ready_s']:>11} {by_worker:>12}"
        )
    print(f"helpdesk ask, cold: {ask_cold:.2f} s")
    print(f"load average after the runs: {os.getloadavg()}")
    print("wrote", write_result("load", {"ask_cold_s": round(ask_cold, 2), "runs": rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
