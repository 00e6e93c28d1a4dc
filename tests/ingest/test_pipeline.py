"""End to end over real files and a real SQLite store: golden seed, incremental, crash-safe."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.errors import CorpusError
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from ingest.store import Store
from tests.fakes import HashEmbedder

ROOT = Path(__file__).parents[2]
SEED = ROOT / "corpus" / "000_703c6e61c96b5cdc.txt"
MDF = (
    "MDF核销有效期多长? 自活动结束之日起,90天内须提交核销,否则华为云有权不予核销。"
    "不完整的核销最多保留45天。 父主题: 市场发展基金\n"
)
INVOICE = (
    "为激励开票 为激励开票 合作伙伴为激励金额开具发票时,"
    "支持开具增值税专用发票和电子专票,不能开具增值税普通发票。\n"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", corpus=tmp_path / "corpus")


@pytest.fixture
def corpus(settings: Settings) -> Path:
    settings.corpus.mkdir()
    (settings.corpus / "mdf.txt").write_text(MDF, encoding="utf-8")
    (settings.corpus / "invoice.txt").write_text(INVOICE, encoding="gbk")
    return settings.corpus


def stored(settings: Settings) -> list[tuple[str, str, str]]:
    store = Store.open(settings.db_path)
    try:
        return [(p.title, p.breadcrumb, p.text) for p in store.passages()]
    finally:
        store.close()


def test_seed_golden(tmp_path: Path, settings: Settings) -> None:
    corpus = tmp_path / "seed"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    report = run_ingest([corpus], settings, embedder=HashEmbedder())
    assert (report.pages, report.passages_in, report.passages_out) == (1, 22, 18)
    assert (report.exact_duplicates, report.near_duplicates, report.boilerplate_lines) == (4, 1, 2)
    assert report.skipped == ()
    store = Store.open(settings.db_path)
    kept = store.passages()
    assert [(p.title, p.breadcrumb, p.text[:10]) for p in kept] == [
        ("", "", "2023年10月后新"),
        ("", "", "首单商用项目 华为云"),
        ("", "", "如果使用了失效的链接"),
        ("", "", "验证成功后需在24小"),
        ("", "", "请申请发放激励,或设"),
        ("", "", "方案的知识。 客户签"),
        ("注册超过7天无法关联合作伙伴?", "经销商子客户", "如果客户通过线下邀请"),
        ("", "", "状态码4xx:由于明"),
        ("", "", "成员已经完成关联,或"),
        ("为激励开票", "", "合作伙伴收到华为云的"),
        ("如何确定账号是否为经销商子客户账号?", "", "使用账号登录华为云,"),
        ("", "", "放方式包括转代金券额"),
        ("", "", "顾问销售切换成代售,"),
        ("", "", "单击“操作”列的“下"),
        ("敏感关系申报", "伙伴计划相关操作", "使用合作伙伴账号登录"),
        ("MDF核销有效期多长?", "", "自活动结束之日起,9"),
        ("", "", "选择“操作记录”,可"),
        ("搜索线索", "", "使用合作伙伴账号登录"),
    ]
    invoice = next(p for p in kept if p.title == "为激励开票")
    path = (corpus / SEED.name).as_posix()  # tmp_path is outside the working directory
    assert [(s.path, s.start, s.end) for s in invoice.sources] == [
        (path, 1609, 1737),
        (path, 2484, 2612),
    ]
    text = SEED.read_text(encoding="utf-8")
    assert text[1609:1737].startswith("合作伙伴收到华为云的激励开票通知后")


def test_rerun_on_unchanged_input_changes_nothing(settings: Settings, corpus: Path) -> None:
    first = run_ingest([corpus], settings, embedder=HashEmbedder())
    before = stored(settings)
    again = run_ingest([corpus], settings, embedder=HashEmbedder())
    assert again.unchanged and (again.added, again.removed, again.updated) == (0, 0, 0)
    assert again.passages_out == first.passages_out == 2
    assert stored(settings) == before


def test_a_changed_file_updates_only_its_passages(settings: Settings, corpus: Path) -> None:
    run_ingest([corpus], settings, embedder=HashEmbedder())
    (corpus / "mdf.txt").write_text(MDF.replace("45天", "60天"), encoding="utf-8")
    report = run_ingest([corpus], settings, embedder=HashEmbedder())
    assert (report.added, report.removed, report.updated) == (1, 1, 0)
    texts = [t for _, _, t in stored(settings)]
    assert any("最多保留60天" in t for t in texts)
    assert any("增值税专用发票" in t for t in texts)  # the GBK file's passage is untouched


def test_a_removed_file_takes_its_passages_with_it(settings: Settings, corpus: Path) -> None:
    run_ingest([corpus], settings, embedder=HashEmbedder())
    (corpus / "mdf.txt").unlink()
    report = run_ingest([corpus], settings, embedder=HashEmbedder())
    assert (report.added, report.removed, report.passages_out) == (0, 1, 1)
    assert [title for title, _, _ in stored(settings)] == ["为激励开票"]


def test_ingesting_one_file_keeps_the_pages_ingested_from_elsewhere(
    settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    run_ingest([corpus], settings, embedder=HashEmbedder())
    extra = tmp_path / "extra.md"
    extra.write_text(
        "# 搜索线索\n单击“高级搜索”,伙伴可以根据华为云账号、公司名称查询线索。\n", encoding="utf-8"
    )
    report = run_ingest([extra], settings, embedder=HashEmbedder())
    assert report.pages == 3 and report.added == 1 and report.removed == 0
    assert sorted(t for t, _, _ in stored(settings)) == [
        "MDF核销有效期多长?",
        "为激励开票",
        "搜索线索",
    ]


def test_bad_files_are_reported_and_skipped_while_the_rest_ingests(
    settings: Settings, corpus: Path
) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00" * 20)
    report = run_ingest([corpus], settings, embedder=HashEmbedder())
    assert report.pages == 2 and report.passages_out == 2
    assert sorted(s.path.rsplit("/", 1)[-1] for s in report.skipped) == ["blob.txt", "empty.txt"]
    assert all(s.reason for s in report.skipped)


def test_nothing_readable_is_an_error_and_keeps_the_old_store(
    settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    run_ingest([corpus], settings, embedder=HashEmbedder())
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="nothing to ingest"):
        run_ingest([empty], settings, embedder=HashEmbedder())
    assert len(stored(settings)) == 2


def test_report_json_has_the_documented_keys(settings: Settings, corpus: Path) -> None:
    data = run_ingest([corpus], settings, embedder=HashEmbedder()).to_json()
    assert {
        "pages",
        "passages_in",
        "passages_out",
        "exact_duplicates",
        "near_duplicates",
        "skipped",
        "seconds",
    } <= set(data)
    assert data["skipped"] == [] and isinstance(data["seconds"], float)


def test_a_killed_ingest_leaves_the_previous_store_intact(settings: Settings, corpus: Path) -> None:
    run_ingest([corpus], settings, embedder=HashEmbedder())
    before = stored(settings)
    # A real process writes a different corpus inside the run's transaction and is killed
    # with SIGKILL before it commits.
    script = textwrap.dedent(
        f"""
        import os, signal
        from ingest.records import Passage, Source
        from ingest.store import Store
        from pathlib import Path
        store = Store.open(Path({str(settings.db_path)!r}))
        with store.transaction():
            store.write_passages([Passage("x" * 16, "t", "", "new text", (Source("n.txt", 0, 8),))])
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert stored(settings) == before
    conn = sqlite3.connect(settings.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    # and the next run works normally
    assert run_ingest([corpus], settings, embedder=HashEmbedder()).unchanged
