"""The local LLM: joining its weights, and the real server behind the LLM answerer.

The server tests run Qwen2.5-Coder-1.5B through llama-cpp-python when `make llm-install` has
installed them, and are skipped (saying so) when not: the default install does not carry the
1.1 GB model. Nothing here is a stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import local_llm
from bot.assistant import Assistant
from bot.local_llm import ALIAS, GGUF_MAGIC, LLMServer, assemble
from ingest.errors import ConfigError
from ingest.settings import Settings
from tests.servers import free_port


def _slices(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for i, chunk in enumerate(chunks, 1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def test_the_slices_are_joined_in_order_once(tmp_path: Path) -> None:
    parts = _slices(tmp_path, [GGUF_MAGIC + b"ab", b"cd", b"e"])
    model = assemble(tmp_path / "models", parts, size=9, name="m.gguf")
    assert model.read_bytes() == b"GGUFabcde"
    parts[1].write_bytes(b"XY")  # a second call reuses the joined file
    assert assemble(tmp_path / "models", parts, size=9, name="m.gguf").read_bytes() == (
        b"GGUFabcde"
    )


def test_a_join_that_is_not_the_model_is_refused_and_left_nowhere(tmp_path: Path) -> None:
    parts = _slices(tmp_path, [b"GGUFabc", b"d"])
    with pytest.raises(ConfigError, match=r"not the expected GGUF file \(8 bytes"):
        assemble(tmp_path / "models", parts, size=9, name="m.gguf")
    with pytest.raises(ConfigError, match="starting b'NOPE'"):
        assemble(tmp_path / "models", _slices(tmp_path, [b"NOPEabcd"]), size=8, name="m.gguf")
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_weight_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_llm, "PART_PACKAGE", "helpdesk_no_such_part{}")
    with pytest.raises(ConfigError) as caught:
        local_llm.part_files(parts=2)
    message = str(caught.value)
    assert "helpdesk-no-such-part1, helpdesk-no-such-part2" in message
    assert "make llm-install" in message


def test_the_server_command_line() -> None:
    server = LLMServer(Path("/m/q.gguf"), port=9001, threads=3, context=2048)
    assert server.base_url == "http://127.0.0.1:9001/v1"
    command = server.command()
    assert command[1:3] == ["-m", "llama_cpp.server"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags == {
        "--model": "/m/q.gguf",
        "--model_alias": ALIAS,
        "--host": "127.0.0.1",
        "--port": "9001",
        "--n_threads": "3",
        "--n_ctx": "2048",
    }
    with pytest.raises(ValueError, match="port"):
        LLMServer(Path("m"), port=0)
    with pytest.raises(ValueError, match="context"):
        LLMServer(Path("m"), context=100)


def test_a_server_that_never_answers_is_reported(tmp_path: Path) -> None:
    import subprocess
    import sys

    server = LLMServer(tmp_path / "m.gguf", port=free_port())
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ConfigError, match="exited with code 3 before it was ready"):
        server.wait_ready(process, timeout=30)


# --- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_server(request: pytest.FixtureRequest) -> Iterator[LLMServer]:
    try:
        local_llm.require_runtime()
        parts = local_llm.part_files()
    except ConfigError as exc:
        pytest.skip(f"the local LLM is not installed ({exc})")
    cache = getattr(request.config, "cache", None)
    models = Path(cache.mkdir("llm-models")) if cache else Path(".cache/models")
    server = LLMServer(assemble(models, parts), port=free_port())
    process = server.start(models / "server.log")
    try:
        server.wait_ready(process, timeout=180)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def assistant(
    seed_index: Settings, bundled_embedder: Any, llm_server: LLMServer
) -> Iterator[Assistant]:
    settings = seed_index.model_copy(
        update={
            "llm": f"openai:{ALIAS}",
            "llm_base_url": llm_server.base_url,
            "llm_api_key": "local",
            "llm_timeout": 120.0,
            "llm_max_retries": 0,
        }
    )
    a = Assistant.open(settings, bundled_embedder)
    yield a
    a.close()


@pytest.mark.slow
def test_the_local_llm_answers_with_verified_citations(assistant: Assistant) -> None:
    answer = assistant.ask("激励开票可以开哪些发票?")
    assert answer.answerer == "llm", answer.reason
    assert "专用发票" in answer.text
    assert answer.citations
    for citation in answer.citations:
        assert citation.quote in citation.passage.text


@pytest.mark.slow
def test_the_local_llm_refuses_what_the_pages_do_not_say(assistant: Assistant) -> None:
    answer = assistant.ask("云服务器怎么扩容磁盘?")
    assert answer.refused and not answer.citations
