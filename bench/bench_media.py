"""Upload-processing figures against DESIGN.md targets: `python bench/bench_media.py`.

(a) thumbnail of a 24-megapixel JPEG vs Pillow's bare reduced-scale decode (<= 1.5x),
    upright and with EXIF orientation 6 (the same picture, to be turned);
(b) peak memory, each in a fresh subprocess, of inspect_pdf on 200 MiB PDFs and of
    sniff-based rejection of a 200 MiB non-image (< 128 MiB peak process memory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `shared` and `tests` importable

from _common import peak_rss_mib  # noqa: E402
from PIL import Image  # noqa: E402

from shared.services.media import SNIFF_BYTES, sniff_content_type  # noqa: E402
from shared.services.media.images import make_thumbnail, process_image  # noqa: E402
from shared.services.media.pdf import inspect_pdf  # noqa: E402
from tests import media_samples  # noqa: E402

MIB = 1024 * 1024
THUMBNAIL_RATIO_TARGET = 1.5
PEAK_MEMORY_TARGET_MIB = 128
BIG_FILE_BYTES = 200 * MIB
RUNS = 7


def median_seconds(action: Callable[[], object], runs: int = RUNS) -> float:
    """Median wall time of ``runs`` calls after one warm-up call."""
    action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def bare_reduced_decode(path: Path) -> None:
    """The floor: Pillow decoding the JPEG at reduced scale, nothing else."""
    with Image.open(path) as image:
        image.draft("RGB", (256, 256))
        image.load()


def bench_thumbnail(workdir: Path) -> bool:
    """Print thumbnail time vs the bare reduced-scale decode; True when within target."""
    jpeg = media_samples.write_large_jpeg(workdir / "camera.jpg")
    floor = median_seconds(lambda: bare_reduced_decode(jpeg))
    thumbnail = median_seconds(lambda: make_thumbnail(str(jpeg)))
    ratio = thumbnail / floor
    print(f"24 MP JPEG ({jpeg.stat().st_size / MIB:.1f} MiB), median of {RUNS}:")
    print(f"  bare draft decode  {floor * 1000:8.1f} ms")
    print(f"  make_thumbnail     {thumbnail * 1000:8.1f} ms   ratio {ratio:.2f}x (target <= 1.5x)")
    full = median_seconds(lambda: Path(process_image(str(jpeg)).stripped_path).unlink(), runs=3)
    print(f"  process_image      {full * 1000:8.1f} ms   (lossless strip + thumbnail)")
    turned = workdir / "turned.jpg"
    with Image.open(jpeg) as picture:
        picture.save(turned, "JPEG", quality=90, exif=media_samples.camera_exif(orientation=6))
    turned_floor = median_seconds(lambda: bare_reduced_decode(turned))
    turned_thumbnail = median_seconds(lambda: make_thumbnail(str(turned)))
    turned_ratio = turned_thumbnail / turned_floor
    print("The same with EXIF orientation 6 (the thumbnail is turned once small):")
    print(f"  bare draft decode  {turned_floor * 1000:8.1f} ms")
    print(
        f"  make_thumbnail     {turned_thumbnail * 1000:8.1f} ms   "
        f"ratio {turned_ratio:.2f}x (target <= 1.5x)"
    )
    return max(ratio, turned_ratio) <= THUMBNAIL_RATIO_TARGET


def measure_in_child(task: str, path: Path) -> dict[str, float]:
    """Run one task in a fresh interpreter and return its memory figures (MiB)."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", task, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def bench_memory(workdir: Path) -> bool:
    """Print peak memory of each streaming case; True when every one is within target."""
    cases = [
        ("pdf", media_samples.write_large_pdf(workdir / "embedded.pdf", size_bytes=BIG_FILE_BYTES)),
        (
            "pdf",
            media_samples.write_large_pdf(
                workdir / "pages.pdf", size_bytes=BIG_FILE_BYTES, layout="pages"
            ),
        ),
        (
            "sniff",
            media_samples.write_large_non_image(workdir / "big.exe", size_bytes=BIG_FILE_BYTES),
        ),
    ]
    within = True
    print(f"Peak memory, fresh process each (target < {PEAK_MEMORY_TARGET_MIB} MiB peak):")
    for task, path in cases:
        figures = measure_in_child(task, path)
        within = within and figures["peak_mib"] < PEAK_MEMORY_TARGET_MIB
        print(
            f"  {task:5} {path.name:13} {path.stat().st_size / MIB:6.0f} MiB file: "
            f"peak {figures['peak_mib']:6.1f} MiB, baseline {figures['baseline_mib']:5.1f} MiB, "
            f"growth {figures['peak_mib'] - figures['baseline_mib']:6.1f} MiB  "
            f"({figures['outcome']})"
        )
        path.unlink()
    return within


def child(task: str, path: str) -> None:
    """Measure one task in this (fresh) process and print its figures as JSON."""
    baseline = peak_rss_mib()
    if task == "pdf":
        facts = inspect_pdf(path)
        outcome = f"{facts.page_count} pages, {len(facts.text_excerpt)} chars of text"
    else:
        with open(path, "rb") as upload:
            sniffed = sniff_content_type(upload.read(SNIFF_BYTES))
        outcome = "type_mismatch" if sniffed != "image/png" else "accepted as image/png"
        outcome += f" (sniffed {sniffed})"
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak_rss_mib(), "outcome": outcome}))


def main() -> int:
    """Run both benchmarks; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        thumbnail_ok = bench_thumbnail(Path(tmp))
        memory_ok = bench_memory(Path(tmp))
    print(
        f"targets: thumbnail {'met' if thumbnail_ok else 'MISSED'}, "
        f"memory {'met' if memory_ok else 'MISSED'}"
    )
    return 0 if thumbnail_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
