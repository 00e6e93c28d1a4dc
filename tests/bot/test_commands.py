"""`helpdesk search` through click's runner, on the seed indexed with the real model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from ingest.settings import Settings


@pytest.fixture
def env(seed_index: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(seed_index.data_dir))
    monkeypatch.setenv("HELPDESK_CORPUS", str(seed_index.corpus))
    return seed_index


def test_search_json(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["search", "MDF核销有效期多长", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["query"] == "MDF核销有效期多长"
    assert len(row["hits"]) == 2
    first = row["hits"][0]
    assert first["title"] == "MDF核销有效期多长?"
    assert set(first) == {"passage_id", "score", "title", "breadcrumb", "text", "source", "ranks"}
    assert first["source"]["path"].endswith("000_703c6e61c96b5cdc.txt")
    assert first["ranks"]["lexical"] == 1


def test_search_reads_queries_from_stdin(env: Settings) -> None:
    stdin = "激励开票可以开哪些发票\n\n如何搜索线索\n"
    result = CliRunner().invoke(cli, ["search", "-", "-k", "1", "--json"], input=stdin)
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["query"] for r in rows] == ["激励开票可以开哪些发票", "如何搜索线索"]
    assert [r["hits"][0]["title"] for r in rows] == ["为激励开票", "搜索线索"]


def test_search_text_output(env: Settings) -> None:
    out = CliRunner().invoke(cli, ["search", "敏感关系申报", "-k", "1"]).output
    assert out.startswith("# 敏感关系申报\n1. [")
    assert "伙伴计划相关操作 > 敏感关系申报" in out


def test_ask_json_has_the_documented_shape(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["ask", "激励开票可以开哪些发票?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"answer", "refused", "citations", "hits", "query"} <= set(data)
    assert data["refused"] is False and data["query"] == "激励开票可以开哪些发票?"
    citation = data["citations"][0]
    assert {"n", "passage_id", "quote", "text", "title", "source"} <= set(citation)
    assert citation["quote"] in citation["text"] and citation["n"] == 1
    assert set(data["hits"][0]) >= {"passage_id", "score", "text"}


def test_ask_reads_questions_from_stdin(env: Settings) -> None:
    stdin = "MDF核销有效期多长?\n云服务器怎么扩容磁盘?\n"
    result = CliRunner().invoke(cli, ["ask", "-", "--json"], input=stdin)
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["refused"] for r in rows] == [False, True]


def test_chat_keeps_the_history(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["chat"], input="MDF核销有效期多长?\n那不完整的呢?\n\n")
    assert result.exit_code == 0, result.output
    assert "45天" in result.output.split("you> ")[2]
