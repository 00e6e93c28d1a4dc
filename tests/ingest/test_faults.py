"""Faults during an ingest: a kill -9 of the serving process, a read-only or full data disk.

Each test runs the real pieces on real files: the SQLite store, Chroma, the bm25s folder, a
`helpdesk serve` or `helpdesk ingest` process. The disk faults mount a small tmpfs as the
data directory (root only; skipped otherwise). After every fault the same checks run: the
store passes integrity_check, Chroma opens and answers, the bm25s index is current or
unused (FTS5 answers), and every search comes wholly from one index, the old one unless
the ingest had committed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.retrieve import HybridRetriever
from ingest import lexical_bm25
from ingest.dense import DenseIndex
from ingest.embed import Embedder
from ingest.errors import DataDirError, StoreError
from ingest.index import passage_of
from ingest.lexical_bm25 import Bm25Index
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from ingest.store import Store
from tests.bot.test_reindex_load import (
    NEW_PAGES,
    OLD_PAGES,
    QUESTIONS,
    old_index,  # noqa: F401 (a fixture, used by name)
    version,
    write_corpus,
)
from tests.fakes import HashEmbedder
from tests.servers import ADMIN_TOKEN, HelpdeskServer, http_json

ROOT = Path(__file__).parents[2]
SEED = (ROOT / "corpus" / "000_703c6e61c96b5cdc.txt").read_text(encoding="utf-8").splitlines()
# Pages the full-disk test adds to NEW_PAGES, so that the new index needs some room.
FILLER_PAGES = {
    f"x{i:02}.md": f"# 活动{i}\n\n"
    + "".join(chr(0x4E00 + (i * 131 + j * 7) % 20000) for j in range(300))
    for i in range(40)
}


@dataclass(frozen=True)
class IndexState:
    """What a data directory holds, read back through the product's own readers."""

    runs: int
    passages: frozenset[str]
    vectors: frozenset[str]  # passage ids with vectors in Chroma (stale ones included)
    bm25s: str  # "current" (its ids are the store's) or "unused" (FTS5 answers)
    versions: tuple[str, ...]  # version() of the top 5 hits of each of QUESTIONS
    tops: tuple[str, ...]  # the text of the best hit of each of QUESTIONS

    def serves(self, index: str) -> bool:
        """Tell whether searches come wholly from the "old" or the "new" pages, as they should."""
        if not set(self.versions) <= {index, "none"}:  # none: no page that differs in the hits
            return False
        address, voucher, refund, leads = self.tops
        if index == "old":
            return "深圳" in address and "退订款项" in refund and "九十天" in leads
        return "上海" in address and "一年" in voucher and "退订款项" in refund


def integrity(db_path: Path) -> str:
    """Return SQLite's integrity_check verdict on the store file."""
    conn = sqlite3.connect(db_path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def inspect(settings: Settings, embedder: Embedder) -> IndexState:
    """Check the store's integrity and read its state back (closing everything it opened)."""
    assert integrity(settings.db_path) == "ok"
    store = Store.open_existing(settings.db_path)
    try:
        runs = int(store.conn.execute("SELECT count(*) FROM runs").fetchone()[0])
        passages = frozenset(store.passage_ids())
        bm25 = Bm25Index.open_current(store, settings.data_dir / lexical_bm25.DIR_NAME)
        assert bm25 is None or set(bm25.ids) == passages
    finally:
        store.close()
    with DenseIndex.open(settings, embedder.model_id, embedder.dim) as dense:
        vectors = frozenset(passage_of(v) for v in dense.ids())
    retriever = HybridRetriever.open(settings, embedder)
    try:
        hits = [retriever.search(q, 5) for q in QUESTIONS]
    finally:
        retriever.close()
    versions = tuple(version(" ".join(h.passage.text for h in found)) for found in hits)
    tops = tuple(found[0].passage.text if found else "" for found in hits)
    bm25s = "unused" if bm25 is None else "current"
    return IndexState(runs, passages, vectors, bm25s, versions, tops)


def leftovers(data_dir: Path) -> list[str]:
    """Return the temporary bm25s folders in the data directory."""
    return sorted(p.name for p in data_dir.glob(f"{lexical_bm25.DIR_NAME}.*"))


def dead_pid() -> int:
    """Return the id of a process that has just exited."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


# ---- kill -9 ------------------------------------------------------------------------------


def test_bm25s_folders_left_by_a_killed_rebuild_are_removed_by_the_next_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_corpus(corpus, OLD_PAGES)
    settings = Settings(data_dir=tmp_path / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=HashEmbedder())
    index = settings.data_dir / lexical_bm25.DIR_NAME
    # What a rebuild killed between its two renames leaves: the old index moved aside, the
    # new one not moved in, no index in place.
    dead = dead_pid()
    shutil.copytree(index, index.with_name(f"bm25s.tmp-{dead}"))
    index.rename(index.with_name(f"bm25s.old-{dead}"))
    # ... and the folder of a rebuild still running in another process, which must stay.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (settings.data_dir / f"bm25s.tmp-{other.pid}").mkdir()
        state = inspect(settings, HashEmbedder())
        assert state.bm25s == "unused" and state.serves("old")  # FTS5 answers
        report = run_ingest([corpus], settings, embedder=HashEmbedder())
        assert report.unchanged
        assert leftovers(settings.data_dir) == [f"bm25s.tmp-{other.pid}"]
    finally:
        other.kill()
        other.wait()
    assert inspect(settings, HashEmbedder()).bm25s == "current"
    write_corpus(corpus, NEW_PAGES)
    run_ingest([corpus], settings, embedder=HashEmbedder())  # the other process is gone now
    assert leftovers(settings.data_dir) == []
    assert inspect(settings, HashEmbedder()).serves("new")


def test_a_run_failing_before_its_commit_takes_back_the_vectors_it_added(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_corpus(corpus, OLD_PAGES)
    settings = Settings(data_dir=tmp_path / "data", corpus=corpus)
    run_ingest([corpus], settings, embedder=HashEmbedder())
    before = inspect(settings, HashEmbedder())
    write_corpus(corpus, {**NEW_PAGES, **FILLER_PAGES})

    def fail() -> None:
        raise StoreError("the store went away")

    with pytest.raises(StoreError, match="the store went away"):
        run_ingest([corpus], settings, embedder=HashEmbedder(), before_commit=fail)
    # Unused vectors of 42 new passages would crowd the old ones out of dense search.
    assert inspect(settings, HashEmbedder()) == before


def wait_for_commit(db_path: Path, runs: int, timeout: float) -> bool:
    """Poll the store until it records more than runs ingest runs; tell whether it did."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM runs").fetchone()[0] > runs:
                return True
            time.sleep(0.001)
        return False
    finally:
        conn.close()


def kill(server: HelpdeskServer) -> None:
    """SIGKILL the server process and reap it."""
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    server.stop()


def ask_all(server: HelpdeskServer) -> list[str]:
    """Ask every question; return the version() of each answer (all must be 200)."""
    out = []
    for question in QUESTIONS:
        status, body = http_json("POST", server.url + "/api/ask", {"question": question})
        assert status == 200, body
        out.append(version(str(body)))
    return out


@pytest.mark.slow
def test_a_server_killed_during_a_reindex_restarts_on_a_whole_index(
    old_index: Settings,  # noqa: F811
    tmp_path: Path,
    bundled_embedder: Any,
) -> None:
    corpus, data = tmp_path / "corpus", old_index.data_dir
    before = inspect(old_index, bundled_embedder)
    assert before.serves("old") and before.bm25s == "current"
    # One long seed page more: its embedding keeps the re-index busy for about a second.
    write_corpus(corpus, {**NEW_PAGES, "e.txt": SEED[2]})

    # 1. Killed while it embeds the new passages: the old index serves after a restart.
    server = HelpdeskServer(data, corpus, tmp_path / "serve1.log").__enter__()
    try:
        assert http_json("POST", server.url + "/api/admin/reindex", token=ADMIN_TOKEN)[0] == 202
        time.sleep(0.3)
        status = http_json("GET", server.url + "/api/admin/reindex", token=ADMIN_TOKEN)[1]
        assert status["state"] == "running", status  # type: ignore[index]
    finally:
        kill(server)
    state = inspect(old_index, bundled_embedder)
    assert (state.runs, state.passages, state.bm25s) == (before.runs, before.passages, "current")
    assert state.serves("old") and state.vectors >= state.passages

    # 2. Killed the moment its transaction commits: the new store serves, whole, after a
    # restart (bm25s current or unused; the vectors of removed passages still there).
    server = HelpdeskServer(data, corpus, tmp_path / "serve2.log").__enter__()
    try:
        assert ask_all(server) == ["old"] * 4
        assert http_json("POST", server.url + "/api/admin/reindex", token=ADMIN_TOKEN)[0] == 202
        assert wait_for_commit(old_index.db_path, before.runs, 15), server.tail()
    finally:
        kill(server)
    state = inspect(old_index, bundled_embedder)
    assert state.runs == before.runs + 1 and state.serves("new")
    assert state.vectors >= state.passages

    # 3. Restarted, the server answers from the new index; a re-index tidies up the rest.
    with HelpdeskServer(data, corpus, tmp_path / "serve3.log") as server:
        assert ask_all(server) == ["new"] * 4
        assert http_json("POST", server.url + "/api/admin/reindex", token=ADMIN_TOKEN)[0] == 202
        deadline = time.monotonic() + 15
        while (status := http_json("GET", server.url + "/api/admin/reindex", token=ADMIN_TOKEN)[1])[
            "state"
        ] == "running" and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.05)
        assert status["state"] == "done" and status["report"]["unchanged"], status  # type: ignore[index]
    final = inspect(old_index, bundled_embedder)
    assert final.vectors == final.passages == state.passages and final.bm25s == "current"
    assert leftovers(data) == []


# ---- a read-only or full data disk ----------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """Mount a 8 MiB tmpfs as tmp_path/data (needs root and mount permission)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mount = tmp_path / "data"
    mount.mkdir()
    done = _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        _mount("-o", "remount,rw", str(mount))
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)  # files still open


@pytest.fixture
def on_tmpfs(tmpfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Ingest OLD_PAGES (fake embedder) into the tmpfs; page paths relative to tmp_path."""
    (tmp_path / "corpus").mkdir()
    write_corpus(tmp_path / "corpus", OLD_PAGES)
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=tmpfs, corpus=Path("corpus"))
    run_ingest([settings.corpus], settings, embedder=HashEmbedder())
    return settings


def cli_ingest(cwd: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run `helpdesk ingest` over ./corpus into data_dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(HELPDESK_DATA_DIR=str(data_dir), HELPDESK_CORPUS="corpus", HF_HUB_OFFLINE="1")
    command = [sys.executable, "-c", "from bot.cli import main; main()", "ingest"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def fill(directory: Path, leave: int) -> Path:
    """Fill the file system of directory until about leave bytes are free; return the filler."""
    fs = os.statvfs(directory)
    filler = directory / "filler"
    with filler.open("wb") as f:
        f.write(b"\0" * max(fs.f_bavail * fs.f_frsize - leave, 0))
    return filler


def test_an_ingest_into_a_read_only_data_dir_fails_clearly_and_keeps_the_old_index(
    on_tmpfs: Settings, tmp_path: Path
) -> None:
    data = on_tmpfs.data_dir
    before = inspect(on_tmpfs, HashEmbedder())
    write_corpus(tmp_path / "corpus", NEW_PAGES)
    # chmod does not stop root: remount the file system read-only instead.
    remounted = _mount("-o", "remount,ro", str(data))
    assert remounted.returncode == 0, remounted.stderr
    with pytest.raises(DataDirError) as raised:
        run_ingest([on_tmpfs.corpus], on_tmpfs, embedder=HashEmbedder())
    assert str(raised.value).startswith(
        f"cannot open the store at {on_tmpfs.db_path}: {data} is on a read-only file system"
    )
    result = cli_ingest(tmp_path, data)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot open the store at {on_tmpfs.db_path}: ")
    assert "is on a read-only file system" in result.stderr
    assert _mount("-o", "remount,rw", str(data)).returncode == 0
    assert inspect(on_tmpfs, HashEmbedder()) == before


@pytest.mark.parametrize("free_kib", [96, 256, 384, 512, 640])
def test_a_full_disk_fails_the_ingest_clearly_and_keeps_the_last_committed_index(
    on_tmpfs: Settings, tmp_path: Path, free_kib: int
) -> None:
    # Where the disk runs out depends on how much room is left: the embedding cache,
    # Chroma, the store's transaction, or (after the commit) the bm25s index.
    before = inspect(on_tmpfs, HashEmbedder())
    write_corpus(tmp_path / "corpus", {**NEW_PAGES, **FILLER_PAGES})
    filler = fill(on_tmpfs.data_dir, free_kib * 1024)
    with pytest.raises(DataDirError) as raised:
        run_ingest([on_tmpfs.corpus], on_tmpfs, embedder=HashEmbedder())
    message = str(raised.value)
    assert message.startswith("cannot write the ") and " is full (" in message
    assert f"{on_tmpfs.data_dir}" in message and "Free some space" in message
    del raised
    filler.unlink()
    state = inspect(on_tmpfs, HashEmbedder())
    if message.startswith("cannot write the bm25s index"):  # after the commit
        assert state.runs == before.runs + 1 and state.bm25s == "unused"
        assert state.serves("new")
    else:  # the vectors added before the failure stay until the next run: they are unused
        assert (state.runs, state.passages, state.bm25s) == (
            before.runs,
            before.passages,
            "current",
        )
        assert state.serves("old") and state.vectors >= before.vectors
    # With room again, the next run completes and tidies up.
    run_ingest([on_tmpfs.corpus], on_tmpfs, embedder=HashEmbedder())
    after = inspect(on_tmpfs, HashEmbedder())
    assert after.serves("new") and after.bm25s == "current" and after.vectors == after.passages
    assert leftovers(on_tmpfs.data_dir) == []


def test_the_cli_reports_a_full_disk_without_a_traceback(
    on_tmpfs: Settings, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "corpus", NEW_PAGES)
    fill(on_tmpfs.data_dir, 16 * 1024)
    result = cli_ingest(tmp_path, on_tmpfs.data_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: cannot ")
    assert f"the disk holding {on_tmpfs.data_dir} is full" in result.stderr


def test_a_reindex_on_a_full_disk_fails_and_the_server_keeps_answering(
    on_tmpfs: Settings, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from bot.api import create_app
    from bot.assistant import Assistant
    from bot.feedback import FeedbackStore

    settings = on_tmpfs.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    assistant = Assistant.open(settings, HashEmbedder())
    feedback = FeedbackStore.open(tmp_path / "feedback.sqlite3")  # not on the full disk
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with TestClient(create_app(settings, assistant, feedback)) as c:
            write_corpus(tmp_path / "corpus", {**NEW_PAGES, **FILLER_PAGES})
            filler = fill(settings.data_dir, 320 * 1024)
            assert c.post("/api/admin/reindex", headers=auth).status_code == 202
            c.app.state.helpdesk.reindexer.join(30)  # type: ignore[attr-defined]
            status = c.get("/api/admin/reindex", headers=auth).json()
            assert status["state"] == "failed", status
            assert status["error"].startswith("cannot write the ")
            assert f"the disk holding {settings.data_dir}" in status["error"]
            # The old index answers, and reads the latest store again (not pinned).
            r = c.post("/api/ask", json={"question": QUESTIONS[0]})
            assert r.status_code == 200 and "深圳" in r.json()["hits"][0]["text"]
            assert not assistant.retriever.store.conn.in_transaction
            filler.unlink()
            assert c.post("/api/admin/reindex", headers=auth).status_code == 202
            c.app.state.helpdesk.reindexer.join(30)  # type: ignore[attr-defined]
            assert c.get("/api/admin/reindex", headers=auth).json()["state"] == "done"
            r = c.post("/api/ask", json={"question": QUESTIONS[0]})
            assert r.status_code == 200 and "上海" in r.json()["hits"][0]["text"]
    finally:
        assistant.close()
        feedback.close()
