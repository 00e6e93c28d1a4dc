"""Ingest throughput, peak RSS and dedupe precision/recall on synthetic snippet corpora.

Usage: python -m bench.bench_ingest [SIZE ...]   (default: 10000 100000 lines)

Each size runs load -> clean -> split -> dedupe -> store in a child process (so its peak
RSS is its own) over a corpus generated from the seed's vocabulary with ~20% injected
duplicates; the parent scores which injected pairs ended up linked.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.common import peak_rss_mb, write_result
from bench.synth import NEAR_KINDS, Corpus, make_corpus, shingle_jaccard


def child(corpus_dir: str, data_dir: str, out: str) -> None:
    """Run one ingest and dump the report, the kept passages' sources and the variants."""
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings
    from ingest.store import Store

    settings = Settings(data_dir=Path(data_dir), corpus=Path(corpus_dir))
    report = run_ingest([Path(corpus_dir)], settings)
    store = Store.open(settings.db_path)
    kept = store.passages()
    groups = [[(s.path, s.start) for s in p.sources] for p in kept]
    by_id = {p.id: [(s.path, s.start) for s in p.sources] for p in kept}
    variants = [
        ([(s.path, s.start) for s in pair.other.sources], by_id.get(pair.kept_id, []))
        for pair in report.near_pairs
        if pair.kind == "variant"
    ]
    Path(out).write_text(
        json.dumps(
            {
                "report": report.to_json(),
                "groups": groups,
                "variants": variants,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def score(
    corpus: Corpus, groups: list[list[list[object]]], variants: list[list[list[list[object]]]]
) -> dict[str, object]:
    """Score injected pairs: linked when their lines share a kept passage or a variant pair."""
    index = {k: i for i, k in enumerate(corpus.starts)}
    ordered = sorted(corpus.starts)

    def line_at(path: object, start: object) -> int:
        i = bisect.bisect_right(ordered, (str(path), int(start))) - 1  # type: ignore[call-overload]
        return index[ordered[i]]

    linked: set[tuple[int, int]] = set()
    for group in groups:
        lines = sorted({line_at(p, s) for p, s in group})
        linked.update((a, b) for i, a in enumerate(lines) for b in lines[i + 1 :])
    for other, kept in variants:
        for p, s in other:
            for q, t in kept:
                a, b = sorted((line_at(p, s), line_at(q, t)))
                if a != b:
                    linked.add((a, b))
    cluster = {i: i for i in range(len(corpus.lines))}
    for inj in corpus.injected:
        cluster[inj.line] = cluster[inj.base]
    true_links = sum(1 for a, b in linked if cluster[a] == cluster[b])
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for inj in corpus.injected:
        pair = tuple(sorted((inj.line, inj.base)))
        by_kind[inj.kind].append(pair in linked)
    near = [hit for kind in NEAR_KINDS for hit in by_kind[kind]]
    # The usual near-duplicate regime: character-shingle Jaccard of at least 0.7.
    close = [
        (tuple(sorted((inj.line, inj.base))) in linked)
        for inj in corpus.injected
        if inj.kind != "exact"
        and shingle_jaccard(corpus.lines[inj.line], corpus.lines[inj.base]) >= 0.7
    ]
    return {
        "precision": round(true_links / len(linked), 4) if linked else None,
        "exact_recall": round(sum(by_kind["exact"]) / max(len(by_kind["exact"]), 1), 4),
        "near_recall": round(sum(near) / max(len(near), 1), 4),
        "near_recall_jaccard_ge_0.7": round(sum(close) / max(len(close), 1), 4),
        "recall_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
        "injected": {k: len(v) for k, v in sorted(by_kind.items())},
        "linked_pairs": len(linked),
    }


def run(size: int) -> dict[str, object]:
    """Benchmark one corpus size; return its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp) / "corpus", size)
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable,
            "-m",
            "bench.bench_ingest",
            "--child",
            str(Path(tmp) / "corpus"),
            str(Path(tmp) / "data"),
            str(out),
        ]
        subprocess.run(cmd, check=True, cwd=Path(__file__).parents[1])
        data = json.loads(out.read_text())
        report = data["report"]
        scores = score(corpus, data["groups"], data["variants"])
    return {
        "lines": size,
        "passages_in": report["passages_in"],
        "passages_out": report["passages_out"],
        "seconds": report["seconds"],
        "passages_per_s": round(report["passages_in"] / report["seconds"], 1),
        "peak_rss_mb": round(data["peak_rss_mb"], 1),
        **scores,
    }


def main(argv: list[str]) -> None:
    """Run the benchmark for the sizes given (default 10k and 100k lines)."""
    if argv[:1] == ["--child"]:
        child(*argv[1:4])
        return
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    rows = [run(n) for n in sizes]
    print(
        f"{'lines':>8} {'passages/s':>11} {'seconds':>8} {'peak MB':>8} {'precision':>9} "
        f"{'exact R':>8} {'near R':>7} {'near R (J>=.7)':>14}"
    )
    for r in rows:
        print(
            f"{r['lines']:>8} {r['passages_per_s']:>11} {r['seconds']:>8} {r['peak_rss_mb']:>8} "
            f"{r['precision']!s:>9} {r['exact_recall']:>8} {r['near_recall']:>7} "
            f"{r['near_recall_jaccard_ge_0.7']:>14}  "
            f"by kind: {r['recall_by_kind']}"
        )
    print("wrote", write_result("ingest", {"runs": rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
