"""``branchops bench NAME`` runs ``benchmarks/NAME.py`` from the source checkout."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[3] / "benchmarks"


def available() -> list[str]:
    if not BENCH_DIR.is_dir():
        return []
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def run_benchmark(name: str, options: list[str]) -> int:
    script = BENCH_DIR / f"{name}.py"
    if not script.is_file():
        names = ", ".join(available()) or "none found"
        sys.stderr.write(f"branchops bench: no benchmark {name!r} (available: {names})\n")
        return 2
    sys.argv = [str(script), *options]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
