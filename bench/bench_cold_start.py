"""Cold start: importing function_app and indexing its functions vs its essential libraries.

Each run is a fresh interpreter that times, with perf_counter, only the imports (and
``get_functions()``), not the interpreter's own start. The two kinds of run alternate
so drift (CPU frequency, page cache) affects both alike. One extra ``-X importtime``
run of each shows which modules the app adds on top of the baseline.

Children keep compiled bytecode (in a temporary PYTHONPYCACHEPREFIX, even when the
caller sets PYTHONDONTWRITEBYTECODE): a deployed app starts from cached bytecode, and
compiling the app's sources on every run would charge it for work the worker never does.

Run alone: ``python bench/bench_cold_start.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from _common import APP_ENVIRONMENT, REPO_ROOT, Result, emit

TARGET_RATIO = 1.25
DEFAULT_RUNS = 11
BASELINE_MODULES = "azure.functions, pymongo, pydantic, jwt, bcrypt"

# json and time are imported before the clock starts in both children, so neither
# is charged for them.
APP_CHILD = """
import json, time
started = time.perf_counter()
import function_app
imported = time.perf_counter()
functions = function_app.app.get_functions()
indexed = time.perf_counter()
print(json.dumps({"total": indexed - started, "index": indexed - imported,
                  "functions": len(functions)}))
"""
BASELINE_CHILD = f"""
import json, time
started = time.perf_counter()
import {BASELINE_MODULES}
print(json.dumps({{"total": time.perf_counter() - started}}))
"""
# ``import pydantic`` is lazy: it loads none of the model machinery. This variant, for
# reference only, shows what building any pydantic model while indexing would add.
MODELS_CHILD = f"""
import json, time
started = time.perf_counter()
import {BASELINE_MODULES}
from pydantic import BaseModel
print(json.dumps({{"total": time.perf_counter() - started}}))
"""
APP_IMPORTTIME = "import function_app; function_app.app.get_functions()"
BASELINE_IMPORTTIME = f"import {BASELINE_MODULES}"


@dataclass(frozen=True)
class ImportTiming:
    """One line of ``-X importtime`` output (microseconds)."""

    module: str
    self_us: int
    cumulative_us: int


def child_environment(pycache: Path) -> dict[str, str]:
    """The caller's environment plus the app's settings, caching bytecode under ``pycache``."""
    env = {**os.environ, **APP_ENVIRONMENT, "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(code: str, pycache: Path) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter at the repository root; return its JSON line."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=child_environment(pycache),
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def import_timings(code: str, pycache: Path) -> dict[str, ImportTiming]:
    """Per-module import times of ``code`` in a fresh interpreter, by module name."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO_ROOT,
        env=child_environment(pycache),
        check=True,
        capture_output=True,
        text=True,
    )
    timings: dict[str, ImportTiming] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        module = name.strip()
        timings[module] = ImportTiming(module, int(self_us), int(cumulative_us))
    return timings


@dataclass
class Samples:
    """Seconds per run of each kind of child, and the detail of the last app run."""

    app: list[float]
    baseline: list[float]
    models: list[float]
    detail: dict[str, float]


def measure(runs: int, pycache: Path) -> Samples:
    """Run the three kinds of child ``runs`` times each, rotating which goes first."""
    kinds = (APP_CHILD, BASELINE_CHILD, MODELS_CHILD)
    for code in kinds:  # untimed: compiles bytecode and fills the page cache
        run_child(code, pycache)
    timings: dict[str, list[float]] = {code: [] for code in kinds}
    detail: dict[str, float] = {}
    for run in range(runs):
        for code in kinds[run % 3 :] + kinds[: run % 3]:
            figures = run_child(code, pycache)
            timings[code].append(figures["total"])
            if code is APP_CHILD:
                detail = figures
    return Samples(timings[APP_CHILD], timings[BASELINE_CHILD], timings[MODELS_CHILD], detail)


def print_extra_imports(pycache: Path, limit: int = 10) -> None:
    """The modules the app imports beyond the baseline: top cumulative, and self time by package."""
    baseline = import_timings(BASELINE_IMPORTTIME, pycache)
    app = import_timings(APP_IMPORTTIME, pycache)
    extra = [timing for module, timing in app.items() if module not in baseline]
    extra_ms = sum(timing.self_us for timing in extra) / 1000
    print(f"Modules imported beyond the baseline: {len(extra)}, {extra_ms:.1f} ms self time")
    print(f"  top {limit} by cumulative import time (-X importtime, one run):")
    print(f"    {'cumulative':>10}  {'self':>8}  module")
    for timing in sorted(extra, key=lambda t: t.cumulative_us, reverse=True)[:limit]:
        print(
            f"    {timing.cumulative_us / 1000:8.1f}ms  {timing.self_us / 1000:6.1f}ms  "
            f"{timing.module}"
        )
    by_package: dict[str, int] = defaultdict(int)
    for timing in extra:
        parts = timing.module.split(".")
        package = ".".join(parts[:2]) if parts[0] in ("shared", "azure") else parts[0]
        by_package[package] += timing.self_us
    print("  self time of those modules by package (model classes are built at import):")
    for package, self_us in sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:limit]:
        print(f"    {self_us / 1000:8.1f}ms  {package}")


def spread(samples: list[float]) -> str:
    """``median ms (min .., max ..)``."""
    return (
        f"{statistics.median(samples) * 1000:6.1f} ms "
        f"(min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"
    )


def main() -> int:
    """Measure, print the figures and the import breakdown, emit the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs of each (>= 7)")
    args = parser.parse_args()
    runs = max(args.runs, 7)
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as tmp:
        samples = measure(runs, Path(tmp))
        app_ms = statistics.median(samples.app) * 1000
        baseline_ms = statistics.median(samples.baseline) * 1000
        models_ms = statistics.median(samples.models) * 1000
        print(f"Cold start, fresh interpreter each, median of {runs} interleaved runs:")
        print(f"  baseline: import {BASELINE_MODULES}   {spread(samples.baseline)}")
        print(
            f"  baseline + from pydantic import BaseModel  {spread(samples.models)}  "
            f"= {models_ms / baseline_ms:.2f}x (reference: what any model built at import adds)"
        )
        print(
            f"  import function_app + get_functions()      {spread(samples.app)}  "
            f"(get_functions() {samples.detail['index'] * 1000:.1f} ms for "
            f"{int(samples.detail['functions'])} functions)"
        )
        print_extra_imports(Path(tmp))
    emit(
        [
            Result(
                bench="cold start",
                metric="import function_app + index",
                value=app_ms,
                baseline=baseline_ms,
                unit="ms",
                target=TARGET_RATIO,
            )
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
