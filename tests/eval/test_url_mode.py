"""`helpdesk eval --url` against a stand-in server on 127.0.0.1 that returns fixed ask JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.cli import cli
from eval.replay import ReplayError
from tests.servers import serving

INVOICE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"
NOT_PLAIN = "不能开具增值税普通发票"
CASES = [
    {"id": "inv-1", "lang": "zh", "answerable": True, "question": "激励发票能开哪几种?",
     "gold": ["增值税专用发票和电子专票"], "facts": [["电子专票"]]},
    {"id": "fu-1", "lang": "zh", "answerable": True, "turns": ["激励发票能开专票吗?", "普票呢?"],
     "question": "普票呢?", "gold": [NOT_PLAIN], "facts": [[NOT_PLAIN]]},
    {"id": "oos-1", "lang": "en", "answerable": False,
     "question": "<script>reset password</script>", "gold": [], "facts": []},
]  # fmt: skip


class StandIn:
    """What the stand-in received, and whether it answers right, wrong or with an error."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.mode = "right"


def ask_json(question: str, mode: str) -> dict[str, Any]:
    hit = {"passage_id": "p-inv", "score": 0.9, "title": "为激励开票", "text": INVOICE}
    if "password" in question:
        return {"answer": "Sorry.", "refused": True, "citations": [], "hits": [hit],
                "query": question}  # fmt: skip
    quote = NOT_PLAIN if "普票" in question else "支持开具增值税专用发票和电子专票"
    if mode == "wrong" and "哪几种" in question:
        quote = "合作伙伴为激励金额开具发票时"
    citation = {"n": 1, "passage_id": "p-inv", "quote": quote, "text": INVOICE,
                "title": "为激励开票", "source": {"path": "corpus/a.txt", "url": None}}  # fmt: skip
    return {"answer": f"{quote}[1]", "refused": False, "citations": [citation], "hits": [hit],
            "query": question}  # fmt: skip


def stand_in_app(state: StandIn) -> FastAPI:
    """Return an app whose POST /api/ask records the body and answers fixed ask JSON."""
    app = FastAPI()

    @app.post("/api/ask")
    async def ask(request: Request) -> JSONResponse:
        body = await request.json()
        state.bodies.append(body)
        if state.mode == "error":
            return JSONResponse({"detail": "index missing"}, status_code=503)
        return JSONResponse(ask_json(body["question"], state.mode))

    return app


@pytest.fixture()
def stand_in() -> Iterator[tuple[str, StandIn]]:
    state = StandIn()
    app = stand_in_app(state)
    with serving(app, "ask-stand-in") as url:
        yield url, state


@pytest.fixture()
def faq(tmp_path: Path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["eval", *args])


def test_replays_through_post_api_ask_with_the_history(
    stand_in: tuple[str, StandIn], faq: Path, tmp_path: Path
) -> None:
    url, state = stand_in
    result = run(str(faq), "--url", url, "--out", str(tmp_path / "a"))
    assert result.exit_code == 0, result.output
    assert [b["question"] for b in state.bodies] == [
        "激励发票能开哪几种?", "激励发票能开专票吗?", "普票呢?", "<script>reset password</script>"
    ]  # fmt: skip
    assert state.bodies[2]["history"] == [
        {"role": "user", "content": "激励发票能开专票吗?"},
        {"role": "assistant", "content": "支持开具增值税专用发票和电子专票[1]"},
    ]
    assert state.bodies[0]["history"] == []
    assert result.output.startswith(f"ours on {faq} (3 cases; POST {url}/api/ask)\n")
    assert "fact coverage         1.000    1.000      n/a    1.000    1.000" in result.output
    assert "0 of 3 cases failed a check" in result.output
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["target"] == f"POST {url}/api/ask"
    assert report["metrics"]["all"]["refusal_recall"] == 1.0
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;reset password&lt;/script&gt;" in html and "<script" not in html


def test_compare_prints_what_got_worse(
    stand_in: tuple[str, StandIn], faq: Path, tmp_path: Path
) -> None:
    url, state = stand_in
    assert run(str(faq), "--url", url, "--out", str(tmp_path / "a")).exit_code == 0
    state.mode = "wrong"
    old = str(tmp_path / "a" / "report.json")
    result = run(str(faq), "--url", url, "--out", str(tmp_path / "b"), "--compare", old)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Compared with {old}\n" in out
    assert "fact coverage        all        1.000    0.500   -0.500  worse" in out
    assert "fact coverage        single     1.000    0.000   -1.000  worse" in out
    assert "worse (1 cases)\n  inv-1      facts\nbetter (0 cases)\n" in out
    report = json.loads((tmp_path / "b" / "report.json").read_text(encoding="utf-8"))
    assert report["comparison"]["worse"] == [{"id": "inv-1", "checks": ["facts"]}]


def test_a_csv_set_replays_the_same(stand_in: tuple[str, StandIn], tmp_path: Path) -> None:
    url, state = stand_in
    csv = tmp_path / "set.csv"
    csv.write_text(
        "id,lang,answerable,question,turns,gold,facts\n"
        "fu-1,zh,true,普票呢?,激励发票能开专票吗?|普票呢?,不能开具增值税普通发票,不能开具增值税普通发票\n",
        encoding="utf-8",
    )
    result = run(str(csv), "--url", url, "--out", str(tmp_path / "c"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["multi"]["fact_coverage"] == 1.0
    assert len(state.bodies) == 2 and len(state.bodies[1]["history"]) == 2


def test_a_server_error_stops_the_replay_with_its_status(
    stand_in: tuple[str, StandIn], faq: Path, tmp_path: Path
) -> None:
    url, state = stand_in
    state.mode = "error"
    result = run(str(faq), "--url", url, "--out", str(tmp_path / "e"))
    assert isinstance(result.exception, ReplayError)
    assert f"{url}/api/ask answered 503" in str(result.exception)
    assert not (tmp_path / "e").exists()


def test_url_is_for_our_server_only(faq: Path) -> None:
    result = run(str(faq), "--url", "http://127.0.0.1:9", "--system", "bm25")
    assert result.exit_code == 2
    assert "--url replays our server" in result.output


def test_a_bad_faq_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = run(str(bad), "--url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "bad.jsonl:1: missing field(s)" in result.output
