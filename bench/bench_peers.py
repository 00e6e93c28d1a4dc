"""Ours beside the peers: the naive LangChain pipeline and BM25 alone, in the same run.

Usage: python -m bench.bench_peers [SYSTEM ...]   (default: ours bm25 naive-langchain)

Every system builds its index from the seed corpus (corpus/) and replays the dev set
(eval/faq/dev.jsonl) through eval.replay, each in a process of its own so that its peak
memory is its own: ours ingests into a fresh data directory and opens the Assistant; the
baselines are eval/baselines.py's, on the same bundled embedding model. One question is asked
first and not counted (first use loads jieba and the indexes). Latency is that of the
question asked (a follow-up's earlier turns are asked before, untimed). Writes
bench/results/peers.json and prints the figures with each peer's ratio to ours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mb, write_result

ROOT = Path(__file__).parents[1]
SYSTEMS = ("ours", "bm25", "naive-langchain")
WARM_UP = "MDF核销有效期多长?"
DEV = ROOT / "eval" / "faq" / "dev.jsonl"


def rss_now_mb() -> float:
    """Return this process's resident memory now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_one(name: str, work: Path) -> dict[str, object]:
    """Build one system over a copy of the seed, replay the dev set; return its figures."""
    t = time.perf_counter()
    from eval.cli import open_system
    from eval.faqset import load_faq
    from eval.replay import replay, summary
    from ingest.embed import get_embedder
    from ingest.settings import Settings

    cases = load_faq(DEV)
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = Settings(data_dir=work / "data", corpus=corpus)
    imported = time.perf_counter() - t
    t = time.perf_counter()
    # One model for ingest and answers, as in `helpdesk run`; BM25 loads none.
    embedder = None if name == "bm25" else get_embedder(settings)
    if name == "ours":
        from ingest.pipeline import run_ingest

        run_ingest([corpus], settings, embedder=embedder)
    system = open_system(name, settings, embedder=embedder)
    built = time.perf_counter() - t
    rss_built = rss_now_mb()
    try:
        t = time.perf_counter()
        system.ask(WARM_UP, [])
        first = time.perf_counter() - t
        results = replay(cases, system.ask)
    finally:
        system.close()
    millis = np.asarray([r.seconds * 1000 for r in results])
    scores = summary(results)
    return {
        "system": name,
        "target": system.target,
        "questions": len(results),
        "import_s": round(imported, 2),
        "build_s": round(built, 2),
        "first_ask_ms": round(first * 1000, 1),
        "p50_ms": round(float(np.percentile(millis, 50)), 2),
        "p95_ms": round(float(np.percentile(millis, 95)), 2),
        "mean_ms": round(float(millis.mean()), 2),
        "rss_after_build_mb": round(rss_built),
        "rss_end_mb": round(rss_now_mb()),
        "peak_rss_mb": round(peak_rss_mb()),
        "hit5": scores["hit5"],
        "fact_coverage": scores["fact_coverage"],
    }


def run_isolated(name: str) -> dict[str, object]:
    """Measure one system in a fresh Python process; return its figures."""
    with tempfile.TemporaryDirectory(prefix=f"peers-{name}-") as tmp:
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.bench_peers", "--one", name, tmp],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    row: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_s"] = round(wall, 1)  # interpreter start to exit
    return row


def ratio(value: object, base: object) -> float | None:
    """Return value / base rounded, or None when it cannot be computed."""
    if not isinstance(value, int | float) or not isinstance(base, int | float) or not base:
        return None
    return round(value / base, 2)


def table(rows: list[dict[str, object]]) -> str:
    """Format the figures, with each system's ratios to ours."""
    ours = next((r for r in rows if r["system"] == "ours"), rows[0])
    head = (
        f"{'system':<16} {'p50 ms':>8} {'p95 ms':>8} {'x p50':>6} {'x p95':>6} "
        f"{'peak MB':>8} {'x peak':>6} {'build s':>8} {'process s':>9} {'hit@5':>6} {'facts':>6}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['system']:<16} {r['p50_ms']:>8} {r['p95_ms']:>8} "
            f"{ratio(r['p50_ms'], ours['p50_ms'])!s:>6} {ratio(r['p95_ms'], ours['p95_ms'])!s:>6} "
            f"{r['peak_rss_mb']:>8} {ratio(r['peak_rss_mb'], ours['peak_rss_mb'])!s:>6} "
            f"{r['build_s']:>8} {r['process_s']:>9} {r['hit5']:>6.3f} {r['fact_coverage']:>6.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """Measure each system in its own process, print the table and write peers.json."""
    if argv[:1] == ["--one"]:
        print(json.dumps(measure_one(argv[1], Path(argv[2])), ensure_ascii=False))
        return
    names = argv or list(SYSTEMS)
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown system(s) {sorted(unknown)}: one of {', '.join(SYSTEMS)}")
    rows = [run_isolated(name) for name in names]
    ours = next((r for r in rows if r["system"] == "ours"), None)
    if ours is not None:
        for r in rows:
            r["vs_ours"] = {
                key: ratio(r[key], ours[key]) for key in ("p50_ms", "p95_ms", "peak_rss_mb")
            }
    print(table(rows))
    print("x = ratio to ours (peer / ours); latency of the question asked, warm")
    print(
        "wrote",
        write_result("peers", {"corpus": "corpus/", "faq": "eval/faq/dev.jsonl", "runs": rows}),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
