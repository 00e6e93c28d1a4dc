"""The lexical index: SQLite FTS5 over jieba-segmented passages, ranked by bm25().

The passages are segmented in Python (ingest.lexicon.Tokenizer) and stored as tokens joined
by spaces, so FTS5 only has to split on spaces. Its unicode61 tokenizer does that, provided
the characters that codes carry inside (``cbc.0100``, ``ak/sk``, ``x-auth-token``, ``c++``)
are token characters. Queries are segmented the same way and each token is quoted as an FTS5
string, so nothing a user types is read as query syntax.

The index lives in the product's SQLite file and the caller owns the transaction: nothing
here commits (and nothing uses executescript, which would commit on the caller's behalf).
Searches go to a bm25s read index built from these rows when one is given (it is much faster
at 100k passages, see ingest.lexical_bm25), else to FTS5.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ingest.lexicon import Tokenizer
from ingest.records import Passage

if TYPE_CHECKING:
    from ingest.lexical_bm25 import Bm25Index

FTS_TABLE = "lexical_fts"
DOCS_TABLE = "lexical_docs"
# Characters kept inside a token besides letters and digits: the separators of codes.
TOKENCHARS = "-_./+#%&"
FTS_TOKENIZE = f"unicode61 remove_diacritics 2 tokenchars '{TOKENCHARS}'"
# bm25() column weights for (title, breadcrumb, body): a title names the topic, so a query
# word in the title counts for more than the same word once in the body.
WEIGHTS = (3.0, 1.5, 1.0)
# A pasted page as a query would OR hundreds of tokens; the first ones carry the question.
MAX_QUERY_TOKENS = 64

_SCHEMA = (
    # The FTS rowid is the key of this table, so delete/replace by passage id is an index
    # lookup instead of a scan of an UNINDEXED column.
    f"CREATE TABLE IF NOT EXISTS {DOCS_TABLE} ("
    " rowid INTEGER PRIMARY KEY, passage_id TEXT NOT NULL UNIQUE)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    f' title, breadcrumb, body, tokenize="{FTS_TOKENIZE}")',
    "CREATE TABLE IF NOT EXISTS lexicon (term TEXT PRIMARY KEY, origin TEXT NOT NULL)",
    # The index's vocabulary, to tell words the pages never use (a sign of a foreign topic).
    f"CREATE VIRTUAL TABLE IF NOT EXISTS lexical_vocab USING fts5vocab({FTS_TABLE}, 'row')",
)


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the lexical tables (FTS5 index, id map, lexicon) if they are missing."""
    for statement in _SCHEMA:
        conn.execute(statement)


def save_terms(conn: sqlite3.Connection, terms: Mapping[str, str]) -> bool:
    """Replace the stored lexicon with terms (term -> origin); tell whether it changed.

    A changed lexicon segments text differently, so the caller should then re-upsert every
    passage: the query side loads this lexicon and must meet tokens cut the same way.
    """
    create_tables(conn)
    if load_terms(conn) == dict(terms):
        return False
    conn.execute("DELETE FROM lexicon")
    conn.executemany("INSERT INTO lexicon (term, origin) VALUES (?, ?)", sorted(terms.items()))
    return True


def load_terms(conn: sqlite3.Connection) -> dict[str, str]:
    """Return the stored lexicon, term -> origin (empty if nothing was saved)."""
    create_tables(conn)
    return dict(conn.execute("SELECT term, origin FROM lexicon ORDER BY term"))


def fts_query(tokens: Iterable[str]) -> str:
    """Return an FTS5 query that ORs the tokens, each quoted as a string (no syntax)."""
    unique = list(dict.fromkeys(t for t in tokens if t))[:MAX_QUERY_TOKENS]
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


class LexicalIndex:
    """Passages in an FTS5 table, searched with bm25() over the same tokens as the query.

    With bm25 (a bm25s index current with the FTS5 rows), searches go to it instead.
    """

    def __init__(
        self, conn: sqlite3.Connection, tokenizer: Tokenizer, bm25: Bm25Index | None = None
    ) -> None:
        self._conn = conn
        self._tokenizer = tokenizer
        self._bm25 = bm25
        create_tables(conn)

    @property
    def uses_bm25s(self) -> bool:
        """Tell whether searches go to the bm25s index (else to FTS5)."""
        return self._bm25 is not None

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer that segments both the passages and the queries."""
        return self._tokenizer

    def upsert(self, passages: Iterable[Passage]) -> None:
        """Index title, breadcrumb and text of each passage, replacing a passage of the same id."""
        for passage in passages:
            row = self._conn.execute(
                f"SELECT rowid FROM {DOCS_TABLE} WHERE passage_id = ?", (passage.id,)
            ).fetchone()
            if row is None:
                cur = self._conn.execute(
                    f"INSERT INTO {DOCS_TABLE} (passage_id) VALUES (?)", (passage.id,)
                )
                rowid = cur.lastrowid
            else:
                rowid = row[0]
                self._conn.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", (rowid,))
            self._conn.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, breadcrumb, body) VALUES (?, ?, ?, ?)",
                (
                    rowid,
                    *(self._joined(f) for f in (passage.title, passage.breadcrumb, passage.text)),
                ),
            )

    def delete(self, ids: Iterable[str]) -> None:
        """Remove the passages with these ids; unknown ids are ignored."""
        for passage_id in ids:
            row = self._conn.execute(
                f"SELECT rowid FROM {DOCS_TABLE} WHERE passage_id = ?", (passage_id,)
            ).fetchone()
            if row is not None:
                self._conn.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", row)
                self._conn.execute(f"DELETE FROM {DOCS_TABLE} WHERE rowid = ?", row)

    def clear(self) -> None:
        """Remove every passage (before re-indexing with a changed lexicon)."""
        self._conn.execute(f"DELETE FROM {FTS_TABLE}")
        self._conn.execute(f"DELETE FROM {DOCS_TABLE}")

    def search(self, query: str, k: int = 20) -> list[tuple[str, float]]:
        """Return up to k (passage id, score) pairs, best first; higher scores are better."""
        tokens = self._tokenizer.tokenize(query)
        if self._bm25 is not None:
            unique = list(dict.fromkeys(t for t in tokens if t))[:MAX_QUERY_TOKENS]
            return self._bm25.search(unique, k)
        return self.fts_search(tokens, k)

    def fts_search(self, tokens: Iterable[str], k: int) -> list[tuple[str, float]]:
        """Return up to k (passage id, score) pairs for the tokens from FTS5's bm25()."""
        match = fts_query(tokens)
        if not match or k <= 0:
            return []
        weights = ", ".join(str(w) for w in WEIGHTS)
        rows = self._conn.execute(
            f"SELECT d.passage_id, bm25({FTS_TABLE}, {weights}) AS s"
            f" FROM {FTS_TABLE} JOIN {DOCS_TABLE} AS d ON d.rowid = {FTS_TABLE}.rowid"
            f" WHERE {FTS_TABLE} MATCH ? ORDER BY s, d.passage_id LIMIT ?",
            (match, k),
        ).fetchall()
        # bm25() is lower-is-better (negative); flip it so a higher score is a better hit.
        return [(passage_id, -s) for passage_id, s in rows]

    def known(self, tokens: Iterable[str]) -> set[str]:
        """Return the tokens that occur somewhere in the indexed passages."""
        wanted = sorted(set(tokens))
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(f"SELECT term FROM lexical_vocab WHERE term IN ({marks})", wanted)
        return {term for (term,) in rows}

    def count(self) -> int:
        """Return how many passages are indexed."""
        (n,) = self._conn.execute(f"SELECT count(*) FROM {DOCS_TABLE}").fetchone()
        return int(n)

    def _joined(self, text: str) -> str:
        return " ".join(self._tokenizer.tokenize(text))
