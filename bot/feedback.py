"""What partners asked and thought of the answers: answers, ratings, and refused questions.

A SQLite file of its own next to the index (data_dir/feedback.sqlite3): the index can be
rebuilt or deleted without losing what partners said, and a re-index holding the store's
write lock never delays a thumbs-up. Every answer the API gives is recorded with the
question and its full ask JSON (hits included), so feedback on it can be read in context;
a refused question is an answer with refused = 1.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ingest.errors import StoreError
from ingest.store import open_sqlite

Rating = Literal["up", "down"]
FILENAME = "feedback.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, created TEXT NOT NULL, channel TEXT NOT NULL,
    question TEXT NOT NULL, query TEXT NOT NULL, refused INTEGER NOT NULL,
    answer TEXT NOT NULL, ask_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_refused ON answers(refused, created);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    created TEXT NOT NULL, rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


@dataclass(frozen=True)
class FeedbackRow:
    """One rating, with the question and answer it is about."""

    id: int
    answer_id: str
    created: str
    rating: Rating
    comment: str
    question: str
    answer: str
    refused: bool


@dataclass(frozen=True)
class GapQuestion:
    """A question the pages did not serve: refused, or its answer rated down."""

    question: str
    kind: Literal["refused", "down"]
    created: str
    answer_id: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class FeedbackStore:
    """Record answers and ratings; list recent feedback and unanswered questions."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()  # one connection, used from the server's threads

    @classmethod
    def open(cls, path: Path) -> FeedbackStore:
        """Open (creating if needed) the feedback database at path."""
        conn = open_sqlite(path, _SCHEMA, "the feedback database")
        return cls(conn)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as err:
                raise StoreError(f"cannot use the feedback database: {err}") from err

    def record_answer(self, question: str, ask_json: dict[str, object], channel: str) -> str:
        """Store an answer given on a channel (api, stream, openai); return its new id."""
        answer_id = uuid.uuid4().hex
        self._execute(
            "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                answer_id,
                _now(),
                channel,
                question,
                str(ask_json.get("query", "")),
                int(bool(ask_json.get("refused"))),
                str(ask_json.get("answer", "")),
                json.dumps(ask_json, ensure_ascii=False),
            ),
        )
        return answer_id

    def add_feedback(self, answer_id: str, rating: Rating, comment: str = "") -> bool:
        """Store a rating of an answer; return False when no answer has that id."""
        with self._lock:
            try:
                cur = self.conn.execute(
                    "INSERT INTO feedback (answer_id, created, rating, comment) "
                    "SELECT id, ?, ?, ? FROM answers WHERE id = ?",
                    (_now(), rating, comment, answer_id),
                )
            except sqlite3.Error as err:
                raise StoreError(f"cannot use the feedback database: {err}") from err
            return cur.rowcount == 1

    def ask_json(self, answer_id: str) -> dict[str, object] | None:
        """Return the stored ask JSON of an answer, or None."""
        rows = self._execute("SELECT ask_json FROM answers WHERE id = ?", (answer_id,))
        return json.loads(str(rows[0][0])) if rows else None

    def recent_feedback(self, limit: int = 100) -> list[FeedbackRow]:
        """Return the latest ratings first, with their questions and answers."""
        rows = self._execute(
            "SELECT f.id, f.answer_id, f.created, f.rating, f.comment, a.question, a.answer, "
            "a.refused FROM feedback f JOIN answers a ON a.id = f.answer_id "
            "ORDER BY f.id DESC LIMIT ?",
            (limit,),
        )
        return [
            FeedbackRow(
                int(str(i)),
                str(aid),
                str(created),
                "up" if rating == "up" else "down",
                str(comment),
                str(question),
                str(answer),
                bool(refused),
            )
            for i, aid, created, rating, comment, question, answer, refused in rows
        ]

    def gap_questions(self, limit: int = 2000) -> list[GapQuestion]:
        """Return the latest refused questions and questions whose answer was last rated down."""
        rows = self._execute(
            "SELECT a.question, 'refused', a.created, a.id FROM answers a WHERE a.refused = 1 "
            "UNION ALL "
            "SELECT a.question, 'down', f.created, a.id FROM answers a JOIN feedback f "
            "ON f.id = (SELECT MAX(id) FROM feedback WHERE answer_id = a.id) "
            "WHERE a.refused = 0 AND f.rating = 'down' "
            "ORDER BY 3 DESC LIMIT ?",
            (limit,),
        )
        return [
            GapQuestion(str(q), "refused" if kind == "refused" else "down", str(c), str(aid))
            for q, kind, c, aid in rows
        ]
