"""Run every benchmark, each in its own process, and print one table against DESIGN.md's targets.

``make bench`` runs this. A missed target is printed as MISS but does not fail the run
(timings depend on the machine); a benchmark that crashes does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import REPO_ROOT, RESULT_PREFIX, Result, format_value

# The last two write and read 200 MiB files; bench_processor.py also starts Azurite.
SCRIPTS = (
    "bench_cold_start.py",
    "bench_invocation.py",
    "bench_auth.py",
    "bench_processor.py",
    "bench_media.py",
)
MEDIA_PEAK_TARGET_MIB = 128.0
MEDIA_THUMBNAIL_TARGET = 1.5
RESULTS_DIR = REPO_ROOT / "bench" / "results"


@dataclass
class Outcome:
    """What one benchmark script printed and how it ended."""

    script: str
    exit_code: int
    seconds: float
    output: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


def run_script(script: str) -> Outcome:
    """Run one script, echoing its output as it comes, and collect its results."""
    print(f"\n=== {script} ===", flush=True)
    started = time.perf_counter()
    outcome = Outcome(script=script, exit_code=0, seconds=0.0)
    with subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "bench" / script)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(RESULT_PREFIX):
                outcome.results.extend(parse_results(line.removeprefix(RESULT_PREFIX)))
                continue
            outcome.output.append(line)
            print(line, end="", flush=True)
    outcome.exit_code = process.returncode
    outcome.seconds = time.perf_counter() - started
    if script == "bench_media.py":
        outcome.results = media_results(outcome.output)
    return outcome


def parse_results(text: str) -> list[Result]:
    """Results from the JSON line a bench script prints last."""
    fields = ("bench", "metric", "value", "unit", "target", "baseline")
    return [Result(**{name: item[name] for name in fields}) for item in json.loads(text)]


def media_results(lines: list[str]) -> list[Result]:
    """Results read from bench_media.py's report (it has no result line of its own)."""
    text = "".join(lines)
    results: list[Result] = []
    floors = re.findall(r"bare draft decode\s+([\d.]+) ms", text)
    thumbnails = re.findall(r"make_thumbnail\s+([\d.]+) ms", text)
    labels = ("24 MP JPEG thumbnail", "24 MP JPEG (EXIF orientation 6) thumbnail")
    for label, floor, thumbnail in zip(labels, floors, thumbnails, strict=False):
        results.append(
            Result(
                bench="media",
                metric=f"{label} vs reduced-scale decode",
                value=float(thumbnail),
                baseline=float(floor),
                unit="ms",
                target=MEDIA_THUMBNAIL_TARGET,
            )
        )
    for match in re.finditer(
        r"^\s*(\w+)\s+(\S+)\s+(\d+) MiB file: peak\s+([\d.]+) MiB", text, re.MULTILINE
    ):
        task, name, size, peak = match.groups()
        results.append(
            Result(
                bench="media",
                metric=f"peak memory, {task} {name} ({size} MiB)",
                value=float(peak),
                unit="MiB",
                target=MEDIA_PEAK_TARGET_MIB,
            )
        )
    return results


def print_summary(outcomes: list[Outcome]) -> None:
    """One row per figure: value, baseline, ratio, target and PASS/MISS."""
    rows = [("bench", "figure", "value", "baseline", "ratio", "target", "result")]
    for outcome in outcomes:
        for result in outcome.results:
            ratio = result.ratio
            rows.append(
                (
                    result.bench,
                    result.metric,
                    format_value(result.value, result.unit),
                    "" if result.baseline is None else format_value(result.baseline, result.unit),
                    "" if ratio is None else f"{ratio:.2f}x",
                    f"<= {result.target:g}x"
                    if ratio is not None
                    else f"<= {format_value(result.target, result.unit)}",
                    "PASS" if result.passed else "MISS",
                )
            )
        if outcome.exit_code != 0 and not outcome.results:
            rows.append((outcome.script, "crashed", "", "", "", "", "ERROR"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    print("\n=== Summary (targets from DESIGN.md, Performance targets) ===")
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    missed = [r.metric for o in outcomes for r in o.results if not r.passed]
    total = sum(outcome.seconds for outcome in outcomes)
    timing = ", ".join(f"{o.script} {o.seconds:.0f}s" for o in outcomes)
    print(f"\n{len(missed)} target(s) missed; ran in {total:.0f}s ({timing})")
    for metric in missed:
        print(f"  MISS: {metric}")


def save_results(outcomes: list[Outcome]) -> Path:
    """Write every figure to bench/results/latest.json (ignored by git) for later comparison."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "latest.json"
    payload = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "results": [
            {**asdict(result), "ratio": result.ratio, "passed": result.passed}
            for outcome in outcomes
            for result in outcome.results
        ],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def main() -> int:
    """Run each script in turn; exit 1 only when one crashed before reporting."""
    outcomes = [run_script(script) for script in SCRIPTS]
    print_summary(outcomes)
    print(f"Figures saved to {save_results(outcomes).relative_to(REPO_ROOT)}")
    crashed = [o.script for o in outcomes if o.exit_code != 0 and not o.results]
    if crashed:
        print(f"Crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
