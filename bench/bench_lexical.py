"""Lexical index: SQLite FTS5 (the product's) against bm25s, on synthetic passages.

Usage: python -m bench.bench_lexical [SIZE ...]   (default: 10000 100000 passages)

Both systems get the same jieba tokens (ingest.lexicon.Tokenizer), so the figures compare
the indexes, not the segmentation; tokenizing is timed once, apart. Passages are snippet
lines of two kinds, each with two rare dictionary words and an error code for a long tail:
"seed" draws words uniformly from the seed's few hundred words (every word is common: long
posting lists, the worst case for an OR query), "zipf" draws them from jieba's dictionary by
frequency (closer to real text). Queries are a code, a title term or a whole sentence of
some passage, a third each.
The bm25s side is the product's read index (ingest.lexical_bm25): title tokens twice, built
from the FTS5 rows, memory-mapped, searched through LexicalIndex.search like FTS5.
"""

from __future__ import annotations

import itertools
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import peak_rss_mb, write_result
from bench.synth import Generator
from ingest import lexical_bm25
from ingest.lexical import LexicalIndex
from ingest.lexical_bm25 import Bm25Index
from ingest.lexicon import Tokenizer, build_lexicon, curated_terms
from ingest.records import Passage
from ingest.store import Store

K = 20
N_QUERIES = 300


class CachedTokenizer(Tokenizer):
    """A tokenizer that answers from tokens computed beforehand (to time the index alone)."""

    def __init__(self, base: Tokenizer, cache: dict[str, list[str]]) -> None:
        super().__init__(base.terms)
        self._cache = cache
        self._base = base

    def tokenize(self, text: str) -> list[str]:
        """Return the cached tokens of text, tokenizing it only if it was not seen."""
        hit = self._cache.get(text)
        return hit if hit is not None else self._base.tokenize(text)


def make_passages(n: int, kind: str, seed: int = 11) -> list[Passage]:
    """Make n synthetic passages with titles, a breadcrumb, rare words and a code each."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    gen = Generator(seed)
    rng = random.Random(seed)
    freq = sorted((w, f) for w, f in jieba.dt.FREQ.items() if f > 0 and w.isalnum())
    rare = [w for w, f in freq if f < 20 and len(w) > 1]
    words = [w for w, _ in freq]
    cum = list(itertools.accumulate(f for _, f in freq))

    def zipf_line() -> str:
        sentences = ("".join(rng.choices(words, cum_weights=cum, k=rng.randint(6, 14))) + "。"
                     for _ in range(rng.randint(3, 6)))  # fmt: skip
        return " ".join(sentences)

    titles = sorted(curated_terms())
    out = []
    for i in range(n):
        tail = "".join(rng.sample(rare, 2))
        code = f"{rng.choice(['CBC', 'BSS', 'IAM', 'APIGW'])}.{rng.randint(0, 9999):04d}"
        line = gen.line() if kind == "seed" else zipf_line()
        out.append(
            Passage(
                id=f"p{i:07d}",
                title=rng.choice(titles),
                breadcrumb=" > ".join(rng.sample(titles, 2)),
                text=f"{line} {tail} 错误码 {code}。",
            )
        )
    return out


def make_queries(passages: Sequence[Passage], seed: int = 13) -> list[str]:
    """Return queries in equal shares: a passage's code, its title term, one of its sentences."""
    rng = random.Random(seed)
    queries = []
    for i in range(N_QUERIES):
        p = rng.choice(passages)
        if i % 3 == 0:
            queries.append(p.text.rsplit(" ", 1)[-1].rstrip("。"))
        elif i % 3 == 1:
            queries.append(p.title)
        else:
            queries.append(rng.choice(p.text.split(" ")))
    return queries


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """Return p50 and p95 of samples (seconds) in milliseconds."""
    cuts = statistics.quantiles(samples, n=20)
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p95_ms": round(cuts[18] * 1000, 3),
    }


def timed(fn: Callable[[str], object], queries: Sequence[str]) -> dict[str, float]:
    """Run fn on every query and return its latency percentiles."""
    samples = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def run(n: int, kind: str, workdir: Path) -> dict[str, object]:
    """Index n passages of a kind of corpus in FTS5 and bm25s and time queries on both."""
    passages = make_passages(n, kind)
    queries = make_queries(passages)
    tokenizer = Tokenizer(build_lexicon(passages))
    tokenizer.tokenize("预热")  # load the dictionary outside the timings
    start = time.perf_counter()
    fields = [(p.title, p.breadcrumb, p.text) for p in passages]
    cache = {f: tokenizer.tokenize(f) for triple in fields for f in triple}
    tokenize_s = time.perf_counter() - start
    query_tokens = {q: tokenizer.tokenize(q) for q in queries}
    cache.update(query_tokens)
    result: dict[str, object] = {"corpus": kind, "passages": n, "tokenize_s": round(tokenize_s, 2)}
    result["query_tokenize"] = timed(tokenizer.tokenize, queries)

    db = workdir / f"lexical-{kind}-{n}.sqlite3"
    store = Store.open(db)
    cached = CachedTokenizer(tokenizer, cache)
    index = LexicalIndex(store.conn, cached)
    start = time.perf_counter()
    with store.transaction():
        index.upsert(passages)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # so the file holds the index
    result["fts5"] = {
        "index_s": round(time.perf_counter() - start, 2),
        "db_mb": round(db.stat().st_size / 2**20, 1),
        **timed(lambda q: index.search(q, K), queries),
    }
    fts_top = {q: [i for i, _ in index.search(q, K)][:1] for q in queries}

    # The product's bm25s path: built from the FTS5 rows after the commit, loaded with mmap
    # once the fingerprint matches, searched through the same LexicalIndex.search.
    directory = workdir / f"bm25s-{kind}-{n}"
    start = time.perf_counter()
    lexical_bm25.refresh(store, directory)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    rebuilt = lexical_bm25.refresh(store, directory)  # an unchanged rerun: fingerprint only
    check_s = time.perf_counter() - start
    start = time.perf_counter()
    bm25 = Bm25Index.open_current(store, directory)
    open_s = time.perf_counter() - start
    assert bm25 is not None and not rebuilt
    fast = LexicalIndex(store.conn, cached, bm25)
    fast.search(queries[0], K)  # the first query pages the mapped arrays in
    agree = sum([i for i, _ in fast.search(q, K)][:1] == fts_top[q] for q in queries)
    result["bm25s"] = {
        "build_s": round(build_s, 2),
        "unchanged_check_s": round(check_s, 2),
        "open_s": round(open_s, 2),
        "index_mb": round(sum(f.stat().st_size for f in directory.iterdir()) / 2**20, 1),
        **timed(lambda q: fast.search(q, K), queries),
        "top1_agreement_with_fts5": round(agree / len(queries), 3),
    }
    store.close()
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def main(argv: Sequence[str]) -> None:
    """Run the sizes given (default 10k and 100k), print and save the figures."""
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for kind in ("seed", "zipf"):
                figures = run(n, kind, Path(tmp))
                print(figures, flush=True)
                runs.append(figures)
    print(f"wrote {write_result('lexical', {'runs': runs})}")


if __name__ == "__main__":
    main(sys.argv[1:])
