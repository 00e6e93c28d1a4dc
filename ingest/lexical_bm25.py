"""A bm25s read index built from the FTS5 rows: the fast path of lexical search.

FTS5 stays the transactional store of the tokens (ingest writes it in its transaction) and
the fallback. bm25s scores a query against a precomputed sparse matrix instead of walking
posting lists, which matters for OR queries over common words: at 100k passages FTS5 took
~117 ms p95 per query, bm25s a few ms (bench/bench_lexical.py).

After an ingest commits, the index is rebuilt from the FTS rows, written to a temporary
folder and renamed into place, then its fingerprint (passage count + sha1 of the indexed
rows) is recorded in the store's meta table in a small transaction of its own. A retriever
uses it only if that fingerprint, the one saved beside the index and the store's current
one agree; a kill anywhere in between leaves a mismatch, and FTS5 answers.

Fields are weighted by repetition, bm25s having a single field: the title's tokens twice,
the breadcrumb's and the body's once. That keeps FTS5's title:breadcrumb ratio (3.0:1.5)
and ranks a title word above a body word, as the bm25() column weights do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.store import Store, write_error

DIR_NAME = "bm25s"  # under the data directory
META_KEY = "bm25s_fingerprint"
IDS_FILE = "passage_ids.json"
TITLE_REPEAT = 2  # title tokens count twice (see the module docstring)


def fts_rows(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """Return every indexed passage as (id, title, breadcrumb, body) tokens, in rowid order."""
    return conn.execute(
        "SELECT d.passage_id, f.title, f.breadcrumb, f.body"
        " FROM lexical_fts AS f JOIN lexical_docs AS d ON d.rowid = f.rowid ORDER BY f.rowid"
    ).fetchall()


def fingerprint(rows: list[tuple[str, str, str, str]]) -> str:
    """Return count + sha1 of the rows: any added, removed or re-segmented passage changes it."""
    digest = hashlib.sha1()
    for row in rows:
        digest.update("\x1f".join(row).encode("utf-8"))
        digest.update(b"\x1e")
    return f"{len(rows)}:{digest.hexdigest()}"


def current_fingerprint(store: Store) -> str:
    """Return the fingerprint of what the store's FTS5 index holds now."""
    return fingerprint(fts_rows(store.conn))


def document(title: str, breadcrumb: str, body: str) -> list[str]:
    """Return one passage's bm25s tokens from its space-joined FTS5 fields."""
    return [*(title.split() * TITLE_REPEAT), *breadcrumb.split(), *body.split()]


def _saved_fingerprint(directory: Path) -> str | None:
    try:
        data = json.loads((directory / IDS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("fingerprint") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _alive(pid: int) -> bool:
    """Tell whether another process with this id is running (so its temporary folder is live)."""
    if pid == os.getpid():
        return False  # this process refreshes one index at a time: its leftovers are dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete the temporary folders of rebuilds killed midway; return what was deleted.

    A rebuild works in <dir>.tmp-PID and <dir>.old-PID: a kill between its renames leaves
    them behind under the dead process's id, each as large as the index. Folders of a
    process still running (another ingest of the same data directory) are left alone.
    """
    removed = []
    for path in sorted(directory.parent.glob(f"{directory.name}.*-*")):
        kind, _, pid = path.name[len(directory.name) + 1 :].partition("-")
        if kind in ("tmp", "old") and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def refresh(store: Store, directory: Path) -> bool:
    """Rebuild the bm25s index of the store's FTS5 rows unless it is current; tell if rebuilt.

    Call it after the ingest transaction committed (it reads committed rows and writes the
    meta table in a transaction of its own). Leftovers of a rebuild killed midway go first.
    """
    remove_leftovers(directory)
    rows = fts_rows(store.conn)
    current = fingerprint(rows)
    if store.get_meta(META_KEY) == current and _saved_fingerprint(directory) == current:
        return False
    if not rows:
        # bm25s cannot index nothing; without an index the retriever uses FTS5.
        with store.transaction():
            store.conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
        shutil.rmtree(directory, ignore_errors=True)
        return True
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([document(*row[1:]) for row in rows], show_progress=False)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
    old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
    try:
        retriever.save(str(tmp), show_progress=False)
        ids = [row[0] for row in rows]
        (tmp / IDS_FILE).write_text(
            json.dumps({"fingerprint": current, "ids": ids}, ensure_ascii=False), "utf-8"
        )
        # A folder cannot be renamed over a non-empty one: move the old aside first. A kill
        # in between leaves no index (FTS5 answers) until the next run rebuilds it.
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
    except OSError as err:  # a full or read-only disk: the store is fine, FTS5 answers
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not directory.exists():
            old.rename(directory)  # its fingerprint is stale, so it stays unused
        raise write_error("the bm25s index", directory, err) from err
    shutil.rmtree(old, ignore_errors=True)
    with store.transaction():
        store.set_meta(META_KEY, current)
    return True


@dataclass(frozen=True)
class Bm25Index:
    """A loaded (memory-mapped) bm25s index and the passage id of each of its documents."""

    retriever: Any  # bm25s.BM25 (imported lazily)
    ids: tuple[str, ...]
    fingerprint: str

    @classmethod
    def open_current(cls, store: Store, directory: Path) -> Bm25Index | None:
        """Load the index if it matches the store's FTS5 rows, else None (use FTS5)."""
        saved = _saved_fingerprint(directory)
        if saved is None or store.get_meta(META_KEY) != saved:
            return None
        if current_fingerprint(store) != saved:
            return None
        import bm25s

        try:
            retriever = bm25s.BM25.load(str(directory), mmap=True, load_corpus=False)
            data = json.loads((directory / IDS_FILE).read_text("utf-8"))
            ids = tuple(data["ids"])
            if len(ids) != int(retriever.scores["num_docs"]):
                return None
        except (OSError, ValueError, KeyError):  # damaged files: FTS5 answers until a rebuild
            return None
        return cls(retriever, ids, saved)

    def search(self, tokens: list[str], k: int) -> list[tuple[str, float]]:
        """Return up to k (passage id, score > 0) for the query tokens, best first."""
        vocab = self.retriever.vocab_dict
        wanted = [t for t in dict.fromkeys(tokens) if t and t in vocab]
        k = min(k, len(self.ids))
        if not wanted or k <= 0:
            return []
        docs, scores = self.retriever.retrieve(
            [wanted], k=k, show_progress=False, n_threads=0, sorted=True
        )
        hits = [
            (self.ids[int(d)], float(s))
            for d, s in zip(docs[0], scores[0], strict=True)
            if float(s) > 0
        ]
        # Equal scores in passage id order, as the FTS5 query orders them.
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))
