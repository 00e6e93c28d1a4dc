"""The SQLite store: pages, passages, provenance and ingest runs, in one file.

A run writes in one transaction: a crash or kill mid-ingest leaves the previous store as
it was (SQLite rolls the journal back on the next open). Writes are a diff against what is
stored: unchanged passages are not rewritten, so downstream indexes only see real changes.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import DataDirError, IndexMissingError, StoreError
from ingest.records import Block, Page, Passage, Source

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    path TEXT PRIMARY KEY, sha TEXT NOT NULL, url TEXT, title TEXT NOT NULL,
    encoding TEXT NOT NULL, text TEXT NOT NULL, blocks TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, breadcrumb TEXT NOT NULL, text TEXT NOT NULL,
    ord INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS provenance (
    passage_id TEXT NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, path TEXT NOT NULL, url TEXT,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    PRIMARY KEY (passage_id, ord)
);
CREATE INDEX IF NOT EXISTS provenance_path ON provenance(path);
CREATE TABLE IF NOT EXISTS common_units (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT NOT NULL,
    report TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Diff:
    """What a write changed, by passage id."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    updated: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Tell whether anything changed."""
        return bool(self.added or self.removed or self.updated)


LOW_SPACE = 1 << 20  # bytes: with less free, a failed write is put down to a full disk


def disk_problem(path: Path, err: BaseException | None = None) -> str:
    """Return why the file system of path refuses writes (read-only, full), or "" if it looks fine.

    SQLite and Chroma report a read-only or full disk in many words ("unable to open database
    file", "disk I/O error"); the file system itself says which it is.
    """
    where = path
    while not where.is_dir() and where != where.parent:
        where = where.parent
    try:
        fs = os.statvfs(where)
    except OSError:
        return ""
    code = getattr(err, "errno", None)
    if fs.f_flag & os.ST_RDONLY or code == errno.EROFS:
        return f"{where} is on a read-only file system"
    free = fs.f_bavail * fs.f_frsize
    full = code in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in str(err)
    if full or getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or free < LOW_SPACE:
        return f"the disk holding {where} is full ({free // 1024} KiB free)"
    return ""


def write_error(what: str, path: Path, err: BaseException, verb: str = "write") -> StoreError:
    """Return the error to raise when writing what at path failed, naming the cause if known."""
    cause = disk_problem(path, err)
    if not cause:
        return StoreError(f"cannot {verb} {what} at {path}: {err}")
    return DataDirError(
        f"cannot {verb} {what} at {path}: {cause} ({err}). Free some space or make it writable,"
        " then run the ingest again; the store keeps its last committed state."
    )


def open_sqlite(path: Path, schema: str, what: str = "the store") -> sqlite3.Connection:
    """Open (creating if needed) a SQLite file: autocommit, WAL, foreign keys, its schema."""
    conn: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commit only.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.executescript(schema)
    except (sqlite3.Error, OSError) as err:
        if conn is not None:
            conn.close()  # else it holds the file open until collected (and the disk busy)
        raise write_error(what, path, err, verb="open") from err
    return conn


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the ingest store."""
    conn = open_sqlite(db_path, _SCHEMA)
    try:
        conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    except sqlite3.Error as err:
        conn.close()
        raise write_error("the store", db_path, err, verb="open") from err
    return conn


class Store:
    """Read and write the ingest store."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, db_path: Path) -> Store:
        """Open the store at db_path."""
        return cls(connect(db_path))

    @classmethod
    def open_existing(cls, db_path: Path) -> Store:
        """Open a store that must already hold an ingest; raise IndexMissingError if not."""
        if not db_path.exists():
            raise IndexMissingError(f"no index at {db_path}: run `helpdesk ingest` first")
        store = cls.open(db_path)
        if store.last_run() is None:
            raise IndexMissingError(f"no ingest has completed in {db_path}: run `helpdesk ingest`")
        return store

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one write transaction: all of it lands, or none."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise write_error("the store", self.path, err) from err
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as err:
            self._rollback()
            raise write_error("the store", self.path, err) from err
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite has already rolled back after some errors (a full disk at COMMIT); a second
        # ROLLBACK would raise and hide the first error.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @property
    def path(self) -> Path:
        """The store's file (for messages)."""
        row = self.conn.execute("PRAGMA database_list").fetchone()
        return Path(row[2]) if row and row[2] else Path("helpdesk.sqlite3")

    def begin_snapshot(self) -> None:
        """Pin this connection's reads to the store as committed now, until end_snapshot().

        A reader in WAL mode keeps the snapshot its read transaction started with: a serving
        Assistant pinned this way goes on reading the previous index while a re-index
        commits the next one. Only read through a pinned connection: a write from a stale
        snapshot fails (SQLite cannot move a reader forward).
        """
        if self.conn.in_transaction:
            return
        try:
            self.conn.execute("BEGIN DEFERRED")
            # The snapshot starts at the first read, not at BEGIN.
            self.conn.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.Error as err:
            raise StoreError(f"cannot read the store: {err}") from err

    def end_snapshot(self) -> None:
        """Let this connection read the latest committed store again (no-op once closed)."""
        with suppress(sqlite3.ProgrammingError):  # the connection was closed meanwhile
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def get_meta(self, key: str) -> str | None:
        """Return a stored setting of the store itself, or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting of the store itself."""
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- pages -----------------------------------------------------------------------

    def pages(self) -> list[Page]:
        """Return every stored page as loaded (before cleaning)."""
        rows = self.conn.execute(
            "SELECT path, sha, url, title, encoding, text, blocks FROM pages ORDER BY path"
        )
        return [
            Page(
                path=path,
                text=text,
                blocks=tuple(Block(**b) for b in json.loads(blocks)),
                sha=sha,
                url=url,
                title=title,
                encoding=encoding,
            )
            for path, sha, url, title, encoding, text, blocks in rows
        ]

    def page_shas(self) -> dict[str, str]:
        """Return path -> sha of every stored page."""
        return dict(self.conn.execute("SELECT path, sha FROM pages"))

    def write_pages(self, pages: Sequence[Page]) -> None:
        """Make the stored pages exactly these (inside a transaction)."""
        stored = self.page_shas()
        keep = {p.path for p in pages}
        self.conn.executemany(
            "DELETE FROM pages WHERE path = ?", [(p,) for p in stored if p not in keep]
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (p.path, p.sha, p.url, p.title, p.encoding, p.text, _blocks_json(p.blocks))
                for p in pages
                if stored.get(p.path) != p.sha
            ],
        )

    # -- passages --------------------------------------------------------------------

    def passages(self) -> list[Passage]:
        """Return every stored passage in corpus order (get_passages fetches a few by id)."""
        sources: dict[str, list[Source]] = {}
        for pid, path, url, start, end in self.conn.execute(
            'SELECT passage_id, path, url, start, "end" FROM provenance ORDER BY passage_id, ord'
        ):
            sources.setdefault(pid, []).append(Source(path, start, end, url))
        query = "SELECT id, title, breadcrumb, text FROM passages ORDER BY ord"
        return [
            Passage(pid, title, breadcrumb, text, tuple(sources.get(pid, ())))
            for pid, title, breadcrumb, text in self.conn.execute(query)
        ]

    def breadcrumbs(self) -> list[str]:
        """Return the distinct non-empty breadcrumbs of the stored passages, sorted."""
        rows = self.conn.execute(
            "SELECT DISTINCT breadcrumb FROM passages WHERE breadcrumb != '' ORDER BY breadcrumb"
        )
        return [str(b) for (b,) in rows]

    def passage_ids(self) -> set[str]:
        """Return the ids of every stored passage."""
        return {row[0] for row in self.conn.execute("SELECT id FROM passages")}

    def get_passages(self, ids: Sequence[str]) -> list[Passage]:
        """Return the stored passages with these ids in the order given (unknown ids left out)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        sources: dict[str, list[Source]] = {}
        for pid, path, url, start, end in self.conn.execute(
            f'SELECT passage_id, path, url, start, "end" FROM provenance'
            f" WHERE passage_id IN ({marks}) ORDER BY passage_id, ord",
            tuple(ids),
        ):
            sources.setdefault(pid, []).append(Source(path, start, end, url))
        rows = {
            pid: Passage(pid, title, breadcrumb, text, tuple(sources.get(pid, ())))
            for pid, title, breadcrumb, text in self.conn.execute(
                f"SELECT id, title, breadcrumb, text FROM passages WHERE id IN ({marks})",
                tuple(ids),
            )
        }
        return [rows[i] for i in ids if i in rows]

    def passage_count(self) -> int:
        """Return how many passages are stored."""
        return int(self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def write_passages(self, passages: Sequence[Passage]) -> Diff:
        """Make the stored passages exactly these, touching only what changed."""
        stored = {p.id: p for p in self.passages()}
        order = dict(self.conn.execute("SELECT id, ord FROM passages"))
        new = {p.id: p for p in passages}
        removed = [pid for pid in stored if pid not in new]
        added = [pid for pid in new if pid not in stored]
        updated = [pid for pid in new if pid in stored and stored[pid] != new[pid]]
        rewrite = set(added) | set(updated)
        self.conn.executemany("DELETE FROM passages WHERE id = ?", [(pid,) for pid in removed])
        for ord_, passage in enumerate(passages):
            if passage.id in rewrite:
                self._put(passage, ord_)
            elif order.get(passage.id) != ord_:
                self.conn.execute("UPDATE passages SET ord = ? WHERE id = ?", (ord_, passage.id))
        return Diff(tuple(added), tuple(removed), tuple(updated))

    def _put(self, passage: Passage, ord_: int) -> None:
        self.conn.execute("DELETE FROM passages WHERE id = ?", (passage.id,))
        self.conn.execute(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?)",
            (passage.id, passage.title, passage.breadcrumb, passage.text, ord_),
        )
        self.conn.executemany(
            "INSERT INTO provenance VALUES (?, ?, ?, ?, ?, ?)",
            [(passage.id, i, s.path, s.url, s.start, s.end) for i, s in enumerate(passage.sources)],
        )

    def write_common_units(self, keys: frozenset[str]) -> None:
        """Replace the set of boilerplate sentences (match keys) found by dedupe."""
        self.conn.execute("DELETE FROM common_units")
        self.conn.executemany("INSERT INTO common_units VALUES (?)", [(k,) for k in sorted(keys)])

    def common_units(self) -> frozenset[str]:
        """Return the match keys of sentences that stand in many passages."""
        return frozenset(k for (k,) in self.conn.execute("SELECT key FROM common_units"))

    # -- runs ------------------------------------------------------------------------

    def record_run(self, started: datetime, report: dict[str, object]) -> int:
        """Record a finished ingest run with its report; return the run id."""
        cur = self.conn.execute(
            "INSERT INTO runs (started, finished, report) VALUES (?, ?, ?)",
            (
                started.isoformat(),
                datetime.now(UTC).isoformat(),
                json.dumps(report, ensure_ascii=False),
            ),
        )
        return int(cur.lastrowid or 0)

    def last_run(self) -> dict[str, object] | None:
        """Return the report of the last finished run, or None."""
        row = self.conn.execute("SELECT report FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None


def _blocks_json(blocks: Sequence[Block]) -> str:
    return json.dumps([asdict(b) for b in blocks], separators=(",", ":"))
