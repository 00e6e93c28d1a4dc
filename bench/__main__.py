"""Run every benchmark (python -m bench [NAME ...]); each prints its table and writes JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> int:
    """Run bench/bench_NAME.py for each name given, or all of them; return the worst status."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [HERE / f"bench_{n}.py" for n in names]
    worst = 0
    for script in scripts:
        module = f"bench.{script.stem}"
        print(f"== {module}", flush=True)
        # One process each, so that peak memory and start-up costs are each bench's own.
        status = subprocess.run([sys.executable, "-m", module], cwd=HERE.parent).returncode
        worst = max(worst, status)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
