"""The `helpdesk` ingest commands through click's runner, and the installed entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

SEED = Path(__file__).parents[2] / "corpus" / "000_703c6e61c96b5cdc.txt"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    (corpus / "broken.html").write_bytes(b"\x00\x00\x00\xff" * 50)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HELPDESK_CORPUS", str(corpus))
    return tmp_path


def test_ingest_json_report(env: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {k: report[k] for k in ("pages", "passages_in", "passages_out")} == {
        "pages": 1,
        "passages_in": 22,
        "passages_out": 18,
    }
    assert (report["exact_duplicates"], report["near_duplicates"]) == (4, 1)
    assert [Path(s["path"]).name for s in report["skipped"]] == ["broken.html"]
    assert report["skipped"][0]["reason"] == "binary file"


def test_ingest_text_report_and_passages_listing(env: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["ingest"]).output
    assert "22 split -> 18 kept" in text and "skipped" in text and "binary file" in text
    lines = runner.invoke(cli, ["passages", "--json"]).output.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 18
    mdf = next(r for r in rows if r["title"] == "MDF核销有效期多长?")
    assert mdf["text"].startswith("自活动结束之日起,90天内须提交核销")
    assert set(mdf["sources"][0]) == {"path", "url", "start", "end"}
    listing = runner.invoke(cli, ["passages"]).output
    assert "经销商子客户 > 注册超过7天无法关联合作伙伴?" in listing


def test_passages_before_any_ingest_says_what_to_do(env: Path) -> None:
    result = CliRunner().invoke(cli, ["passages"], standalone_mode=True)
    assert result.exit_code != 0
    assert "helpdesk ingest" in str(result.exception)


def test_missing_corpus_path_is_a_clear_error(env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "ingest", str(env / "nope")],
        capture_output=True,
        text=True,
        env={"HELPDESK_DATA_DIR": str(env / "data"), "PATH": ""},
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "nope" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_script_lists_the_commands() -> None:
    exe = Path(sys.executable).with_name("helpdesk")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("ingest", "passages", "run"):
        assert f"  {command} " in out
