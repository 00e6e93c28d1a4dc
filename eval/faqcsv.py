"""Read FAQ sets kept as CSV (a spreadsheet export) with the JSONL format's columns.

Columns: id, question, lang, answerable, gold, facts, and optionally turns. A list cell is
either JSON (`["a", "b"]`, `[["a", "b"], ["c"]]` for facts) or plain text: `|` between items
and, in facts, `/` between the alternatives of one fact (`无需开票/无须开票|代金券`). Empty
gold/facts/turns cells are empty lists (no turns: a single-turn case). answerable takes
true/false, yes/no or 1/0. The file may start with a BOM (Excel writes one).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from eval.faqset import FaqCase, load_faq, parse_case

REQUIRED = ("id", "question", "lang", "answerable", "gold", "facts")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def load_cases(path: str | Path) -> list[FaqCase]:
    """Read a FAQ set, as JSONL or (by its .csv suffix) as CSV."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return parse_csv(path.read_text(encoding="utf-8-sig"), source=str(path))
    return load_faq(path)


def parse_csv(text: str, source: str = "<string>") -> list[FaqCase]:
    """Parse FAQ set CSV text; raise ValueError naming the line of the first bad row."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValueError(f"{source}: the header lacks column(s) {', '.join(missing)}")
    reader.fieldnames = header
    cases: list[FaqCase] = []
    seen: dict[str, int] = {}
    for row in reader:
        where = f"{source}:{reader.line_num}"
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue
        case = parse_case(_raw(row, where), where)
        if case.id in seen:
            raise ValueError(f"{where}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = reader.line_num
        cases.append(case)
    return cases


def _raw(row: dict[str | None, Any], where: str) -> dict[str, Any]:
    if row.get(None):
        raise ValueError(f"{where}: more cells than columns (quote cells holding commas)")
    cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
    unknown = sorted(k for k in cell if k not in (*REQUIRED, "turns"))
    if unknown:
        raise ValueError(f"{where}: unknown column(s) {', '.join(unknown)}")
    raw: dict[str, Any] = {
        "id": cell["id"],
        "question": cell["question"],
        "lang": cell["lang"],
        "answerable": _flag(cell["answerable"], where),
        "gold": _items(cell["gold"], where, "gold"),
        "facts": _facts(cell["facts"], where),
    }
    if cell.get("turns"):
        raw["turns"] = _items(cell["turns"], where, "turns")
    return raw


def _flag(value: str, where: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"{where}: answerable must be true or false, not {value!r}")


def _json(value: str, where: str, name: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: {name} is not valid JSON ({exc.msg})") from None


def _items(value: str, where: str, name: str) -> Any:
    if not value:
        return []
    if value.startswith("["):
        return _json(value, where, name)
    return [item.strip() for item in value.split("|")]


def _facts(value: str, where: str) -> Any:
    if not value:
        return []
    if value.startswith("["):
        return _json(value, where, "facts")
    return [[alt.strip() for alt in fact.split("/")] for fact in value.split("|")]
