"""Run an ingest: load -> clean -> split -> dedupe -> store, and report what happened."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.clean import clean_pages
from ingest.dedupe import DedupeResult, NearPair, dedupe
from ingest.embed import Embedder, get_embedder
from ingest.errors import CorpusError, HelpdeskError
from ingest.index import Indexer, Progress
from ingest.load import load_corpus
from ingest.records import Page, Passage, Skipped
from ingest.settings import Settings
from ingest.split import SplitOptions, split_page
from ingest.store import Diff, Store


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run read, merged, skipped and changed."""

    pages: int
    passages_in: int
    passages_out: int
    exact_duplicates: int
    near_duplicates: int
    skipped: tuple[Skipped, ...]
    seconds: float
    boilerplate_lines: int = 0
    near_variants: int = 0
    added: int = 0
    removed: int = 0
    updated: int = 0
    unchanged: bool = False
    embedded: int = 0
    vectors_added: int = 0
    vectors_removed: int = 0
    embed_model: str = ""
    embed_device: str = ""  # where this run embedded passages (HELPDESK_EMBED_DEVICE)
    diff: Diff = field(default=Diff((), (), ()), repr=False, compare=False)
    near_pairs: tuple[NearPair, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, object]:
        """Return the report as the JSON object `helpdesk ingest --json` prints."""
        data = asdict(self)
        data.pop("diff")
        data.pop("near_pairs")
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return data


# Bump when clean/split/dedupe change what they produce, so stored passages are rebuilt.
PIPELINE_VERSION = "2"


def _display_path(path: Path) -> Path:
    """Express a corpus path relative to the working directory when it lies under it."""
    absolute = Path(os.path.abspath(path))
    cwd = Path.cwd()
    return Path(os.path.relpath(absolute, cwd)) if absolute.is_relative_to(cwd) else absolute


def pipeline_fingerprint(settings: Settings) -> str:
    """Return what decides the passages besides the pages: code version and settings."""
    fields = (
        "passage_max_chars",
        "passage_min_chars",
        "near_dup_threshold",
        "minhash_perm",
        "boilerplate_min_pages",
        "boilerplate_page_share",
    )
    values = ",".join(f"{f}={getattr(settings, f)}" for f in fields)
    return f"v{PIPELINE_VERSION}:{values}"


def _in_scope(page_path: str, roots: Sequence[Path]) -> bool:
    return any(page_path == r.as_posix() or page_path.startswith(r.as_posix() + "/") for r in roots)


def run_ingest(
    paths: Sequence[Path],
    settings: Settings,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    *,
    before_commit: Callable[[], None] | None = None,
    prune_vectors: bool = True,
) -> IngestReport:
    """Ingest the files under paths into the store and both indexes.

    Pages stored from other paths stay; a page under paths that is gone is removed.
    before_commit runs inside the run's write transaction, just before it commits (no other
    writer can commit meanwhile): a server pins its serving Assistant to the previous store
    there. prune_vectors=False keeps the vectors of removed passages (harmless, see
    ingest.index) for whoever still serves the previous store; remove_stale_vectors() drops
    them later.
    """
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    roots = [_display_path(p) for p in paths]
    loaded = load_corpus(roots)
    if not loaded.pages:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in loaded.skipped) or "no files"
        raise CorpusError(f"nothing to ingest under {', '.join(map(str, roots))} ({reasons})")
    tick("load", len(loaded.pages), len(loaded.pages))

    store = Store.open(settings.db_path)
    indexer = Indexer(store, settings, embedder or get_embedder(settings))
    try:
        stored = store.page_shas()
        others = {path: sha for path, sha in stored.items() if not _in_scope(path, roots)}
        fingerprint = pipeline_fingerprint(settings)
        # Decided on hashes alone: an unchanged rerun never reads the stored pages' text.
        unchanged = (
            store.last_run() is not None
            and not indexer.model_changed
            and store.get_meta("pipeline") == fingerprint
            and stored == {**others, **{p.path: p.sha for p in loaded.pages}}
        )
        if unchanged:
            # Still finish what a killed run may have left: vectors added or removed late.
            embedded, added, removed = indexer.repair()
            indexer.refresh_bm25s()
            pages_count = len(loaded.pages) + len(others)
            report = _unchanged_report(store, pages_count, loaded.skipped, time.perf_counter() - t0)
            return replace(
                report,
                embedded=embedded,
                vectors_added=added,
                vectors_removed=removed,
                embed_model=indexer.embedder.model_id,
                embed_device=embed_device(indexer.embedder),
            )
        pages = loaded.pages + tuple(p for p in store.pages() if p.path in others)
        passages_in, result, dropped = _process(pages, settings, tick)
        try:
            embedded, added = indexer.add_vectors(result.passages, tick)
            with store.transaction():
                store.write_pages(pages)
                store.set_meta("pipeline", fingerprint)
                diff = store.write_passages(result.passages)
                store.write_common_units(result.common_units)
                indexer.update_lexical(result.passages, diff)
                indexer.record_model()
                report = IngestReport(
                    pages=len(pages),
                    passages_in=len(passages_in),
                    passages_out=len(result.passages),
                    exact_duplicates=result.exact_duplicates,
                    near_duplicates=result.near_duplicates,
                    skipped=loaded.skipped,
                    seconds=round(time.perf_counter() - t0, 3),
                    boilerplate_lines=dropped,
                    near_variants=len(result.near_pairs) - result.near_duplicates,
                    added=len(diff.added),
                    removed=len(diff.removed),
                    updated=len(diff.updated),
                    embedded=embedded,
                    vectors_added=added,
                    embed_model=indexer.embedder.model_id,
                    embed_device=embed_device(indexer.embedder),
                    diff=diff,
                    near_pairs=result.near_pairs,
                )
                store.record_run(started_at, report.to_json())
                if before_commit is not None:
                    before_commit()
        except HelpdeskError:
            # Nothing was committed: the vectors this run added belong to no stored passage.
            # Harmless for answers, but many of them crowd the old passages out of dense
            # search, so they go now (the next run would delete them anyway).
            with suppress(HelpdeskError):
                indexer.remove_stale_vectors()
            raise
        removed = indexer.remove_stale_vectors() if prune_vectors else 0
        indexer.refresh_bm25s()
        indexer.drop_other_model()
        tick("store", 1, 1)
        return replace(report, vectors_removed=removed)
    finally:
        indexer.close()
        store.close()


def embed_device(embedder: Embedder) -> str:
    """Return the device an embedder runs passages on ("cpu" for engines without one)."""
    return str(getattr(embedder, "device", "cpu"))


def remove_stale_vectors(settings: Settings, embedder: Embedder | None = None) -> int:
    """Delete the vectors of passages the store no longer holds; return how many passages."""
    store = Store.open_existing(settings.db_path)
    indexer = Indexer(store, settings, embedder or get_embedder(settings))
    try:
        return indexer.remove_stale_vectors()
    finally:
        indexer.close()
        store.close()


def _process(
    pages: Sequence[Page], settings: Settings, tick: Progress
) -> tuple[list[Passage], DedupeResult, int]:
    """Clean, split and dedupe pages; return the split passages, the result and drops."""
    cleaned = clean_pages(pages, settings.boilerplate_min_pages, settings.boilerplate_page_share)
    options = SplitOptions(settings.passage_max_chars, settings.passage_min_chars)
    passages: list[Passage] = []
    for i, page in enumerate(cleaned.pages, 1):
        passages.extend(split_page(page, options))
        tick("split", i, len(cleaned.pages))
    tick("dedupe", 0, 1)
    result = dedupe(
        passages,
        {p.path: p.text for p in pages},
        threshold=settings.near_dup_threshold,
        num_perm=settings.minhash_perm,
    )
    tick("dedupe", 1, 1)
    return passages, result, cleaned.dropped


def _unchanged_report(
    store: Store, pages: int, skipped: tuple[Skipped, ...], seconds: float
) -> IngestReport:
    last = store.last_run() or {}
    count = store.passage_count()

    def number(key: str) -> int:
        value = last.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    return IngestReport(
        pages=pages,
        passages_in=number("passages_in"),
        passages_out=count,
        exact_duplicates=number("exact_duplicates"),
        near_duplicates=number("near_duplicates"),
        skipped=skipped,
        seconds=round(seconds, 3),
        boilerplate_lines=number("boilerplate_lines"),
        near_variants=number("near_variants"),
        unchanged=True,
    )
