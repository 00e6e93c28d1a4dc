"""Shared bench helpers: peak RSS, machine description, writing results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """Return a process's resident memory (VmRSS) or its peak (VmHWM) in MB; 0 once it exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int | str = "self") -> float:
    """Return a process's peak RSS in MB (VmHWM: unlike ru_maxrss, not inherited at exec)."""
    return rss_mb(pid, "VmHWM")


def machine() -> dict[str, object]:
    """Describe the machine the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def write_result(name: str, data: dict[str, object]) -> Path:
    """Write one benchmark's figures to bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, ensure_ascii=False, indent=2) + "\n")
    return path
