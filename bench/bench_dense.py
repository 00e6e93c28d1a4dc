"""Measure DenseIndex (local Chroma) upsert throughput and query latency at 10k and 100k vectors.

Run: .venv/bin/python bench/bench_dense.py [--sizes 10000 100000] [--queries 200]
Writes bench/results/dense.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ingest.dense import DenseIndex
from ingest.settings import Settings

DIM = 384  # multilingual-e5-small
RESULTS = Path(__file__).parent / "results" / "dense.json"


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return n random unit vectors of DIM dimensions."""
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    return float(np.percentile(np.asarray(values), q))


def bench_size(n: int, queries: int, k: int, rng: np.random.Generator) -> dict[str, float]:
    """Index n random vectors in a fresh local store and time queries against it."""
    vectors = unit_vectors(n, rng)
    ids = [f"p{i:07d}" for i in range(n)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        DenseIndex.open(Settings(data_dir=Path(tmp)), "bench-model", DIM) as index,
    ):
        started = time.perf_counter()
        index.upsert(ids, vectors)
        upsert_s = time.perf_counter() - started

        probes = rng.integers(0, n, size=queries)
        index.search(vectors[0], k)  # warm-up: the first query loads the HNSW segment
        latencies, self_hits = [], 0
        for p in probes:
            started = time.perf_counter()
            hits = index.search(vectors[p], k)
            latencies.append((time.perf_counter() - started) * 1000)
            self_hits += hits[0][0] == ids[p]
        fresh = unit_vectors(queries, rng)
        fresh_ms = []
        for q in fresh:
            started = time.perf_counter()
            index.search(q, k)
            fresh_ms.append((time.perf_counter() - started) * 1000)
        all_ms = latencies + fresh_ms
    return {
        "n": n,
        "k": k,
        "queries": 2 * queries,
        "upsert_s": round(upsert_s, 2),
        "upsert_per_s": round(n / upsert_s),
        "query_p50_ms": round(statistics.median(all_ms), 2),
        "query_p95_ms": round(percentile(all_ms, 95), 2),
        "self_recall_at_1": round(self_hits / queries, 3),
    }


def main() -> None:
    """Run the benchmark and write bench/results/dense.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=20)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        row = bench_size(n, args.queries, args.k, rng)
        rows.append(row)
        print(
            f"n={n:>7,}  upsert {row['upsert_s']:>6.1f} s ({row['upsert_per_s']:,}/s)  "
            f"query k={args.k} p50 {row['query_p50_ms']:.2f} ms  p95 {row['query_p95_ms']:.2f} ms  "
            f"self@1 {row['self_recall_at_1']:.3f}"
        )
    import chromadb

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "bench": "dense",
        "store": "chromadb PersistentClient, hnsw cosine (defaults: M=16, ef_search=100)",
        "chromadb": chromadb.__version__,
        "dim": DIM,
        "machine": platform.platform(),
        "results": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
