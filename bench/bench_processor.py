"""Peak memory of the whole upload processor on large uploads in a real Azurite.

Target (DESIGN.md): under 128 MiB peak process memory for a 200 MiB PDF, for a
200 MiB file rejected as ``type_mismatch``, for a 24-megapixel camera JPEG (upright, and
one whose EXIF asks for a 90° turn) and for the largest image the pixel cap admits
(width x height within one row of its format's cap, images.PIXEL_CAPS) as JPEG, PNG,
WebP (still, and one to turn) and GIF. Each case runs in a
fresh interpreter, which creates the upload through the app's ``POST /api/v1/uploads``
function, PUTs a generated file (streamed from disk) to the SAS URL it returns, as a
browser does, then calls ``process_blob(name, etag=...)`` as the blob trigger does.
VmHWM is reset (``/proc/self/clear_refs``) and read right before ``process_blob`` and
read again right after, so the peak is that of one processing run.

Cases: a valid PDF (expected ``ready``), an executable declared ``image/png``
(expected ``rejected type_mismatch``), and the pictures (expected ``ready``): noise
and gradients with camera EXIF (GPS, make, orientation 1 or 6), XMP and an ICC profile;
an RGBA PNG with text and EXIF chunks; a WebP with EXIF and XMP; a 64-colour GIF with
a comment.
Scanning is off (``CLAMD_URL=""``); when clamd is installed every case runs again
with a real clamd (tests/clamd_server.py).
Azurite comes from ``npm ci``; without it the bench prints SKIP and no figures.

Run alone: ``python bench/bench_processor.py [--no-clamd]``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import (
    REPO_ROOT,
    Result,
    call,
    drop_bench_database,
    emit,
    http_request,
    login_request,
    peak_rss_mib,
    register_user,
    response_json,
    use_app_environment,
    use_bench_database,
)

MIB = 1024 * 1024
BLOB_BYTES = 200 * MIB
PEAK_TARGET_MIB = 128.0
# Room for the 200 MiB blob under the per-file limit and the user's quota.
UPLOAD_LIMIT_BYTES = 256 * MIB
CLIENT_IP = "192.0.2.10"
PUT_TIMEOUT_SECONDS = 120
# Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
RESET_PEAK = "5"


@dataclass(frozen=True)
class Case:
    """One upload to process: how it is declared, and what the processor should decide."""

    key: str
    label: str
    filename: str
    content_type: str
    expected: str
    write: Callable[[Path], Path]


def _write_pdf(path: Path) -> Path:
    from tests import media_samples

    return media_samples.write_large_pdf(path, size_bytes=BLOB_BYTES)


def _write_photo(path: Path, size: tuple[int, int], *, orientation: int = 1) -> Path:
    from tests import media_samples

    media_samples.write_large_jpeg(path, size=size)
    from PIL import Image

    with Image.open(path) as picture:  # the parent's memory, not the measured child's
        picture.load()
        picture.save(
            path,
            "JPEG",
            quality=90,
            exif=media_samples.camera_exif(orientation=orientation),
            xmp=media_samples.XMP_PACKET,
            icc_profile=media_samples.srgb_profile(),
        )
    return path


def _write_png(path: Path) -> Path:
    from tests import media_samples

    return media_samples.write_large_png(path, size=_largest_admitted_size("png"))


def _write_webp(path: Path, *, orientation: int = 1) -> Path:
    from tests import media_samples

    kind = "webp" if orientation == 1 else "webp-decoded"
    media_samples.write_large_jpeg(path.with_suffix(".jpg"), size=_largest_admitted_size(kind))
    from PIL import Image

    with Image.open(path.with_suffix(".jpg")) as picture:
        picture.save(
            path,
            "WEBP",
            quality=80,
            method=0,  # the fastest encoder: the file is set-up, not measured
            exif=media_samples.camera_exif(orientation=orientation),
            xmp=media_samples.XMP_PACKET,
        )
    path.with_suffix(".jpg").unlink()
    return path


def _write_gif(path: Path) -> Path:
    from PIL import Image

    size = _largest_admitted_size("gif")
    horizontal = Image.linear_gradient("L").resize(size)
    vertical = Image.linear_gradient("L").rotate(90).resize(size)
    bands = (horizontal, horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), vertical)
    Image.merge("RGB", bands).quantize(64).save(path, "GIF", comment=b"secret comment")
    return path


def _largest_admitted_size(kind: str) -> tuple[int, int]:
    """An 8:5 picture of the format's pixel cap (width x height within one row of it)."""
    from shared.services.media.images import PIXEL_CAPS

    cap = PIXEL_CAPS[kind]
    height = math.isqrt(cap * 5 // 8)
    return cap // height, height


def _write_renamed_executable(path: Path) -> Path:
    from tests import media_samples

    return media_samples.write_large_non_image(path, size_bytes=BLOB_BYTES)


CASES = {
    case.key: case
    for case in (
        Case("pdf", "PDF", "report.pdf", "application/pdf", "ready", _write_pdf),
        Case(
            "exe",
            "executable declared image/png",
            "holiday.png",
            "image/png",
            "rejected type_mismatch",
            _write_renamed_executable,
        ),
        Case(
            "photo24",
            "24 MP JPEG 6000x4000",
            "camera.jpg",
            "image/jpeg",
            "ready",
            lambda path: _write_photo(path, (6000, 4000)),
        ),
        Case(
            "photo24-turned",
            "24 MP JPEG, EXIF orientation 6",
            "portrait.jpg",
            "image/jpeg",
            "ready",
            lambda path: _write_photo(path, (6000, 4000), orientation=6),
        ),
        Case(
            "photo-cap",
            "JPEG at the pixel cap",
            "panorama.jpg",
            "image/jpeg",
            "ready",
            lambda path: _write_photo(path, _largest_admitted_size("jpeg")),
        ),
        Case("png-cap", "RGBA PNG at the pixel cap", "scan.png", "image/png", "ready", _write_png),
        Case("webp-cap", "WebP at its pixel cap", "wide.webp", "image/webp", "ready", _write_webp),
        Case(
            "webp-turned-cap",
            "WebP, EXIF orientation 6, at its pixel cap",
            "tall.webp",
            "image/webp",
            "ready",
            lambda path: _write_webp(path, orientation=6),
        ),
        Case("gif-cap", "GIF at its pixel cap", "poster.gif", "image/gif", "ready", _write_gif),
    )
}


@dataclass(frozen=True)
class Measurement:
    """What one child reported about its processing run."""

    outcome: str
    scan: str
    before_mib: float
    peak_mib: float
    peak_reset: bool
    seconds: float
    size_mib: float = 0.0

    @property
    def growth_mib(self) -> float:
        """How far the peak rose above the resident memory before processing."""
        return self.peak_mib - self.before_mib


# --- child: one processing run in a fresh interpreter -----------------------------------


def child(case: Case, path: Path, connection_string: str, clamd_url: str) -> None:
    """Upload ``path`` through the app, process it once, print the figures as JSON."""
    use_bench_database(
        AZURE_STORAGE_CONNECTION_STRING=connection_string,
        CLAMD_URL=clamd_url,
        UPLOAD_MAX_BYTES=str(UPLOAD_LIMIT_BYTES),
        UPLOAD_QUOTA_BYTES=str(UPLOAD_LIMIT_BYTES),
        BCRYPT_ROUNDS="4",  # registration and login are set-up, not measured
    )
    try:
        name, etag = upload_through_api(case, path)
        from bson import ObjectId

        from shared.repositories import uploads as upload_records
        from shared.services.upload_processing import process_blob

        peak_reset = reset_peak_memory()
        before = peak_rss_mib()
        started = time.perf_counter()
        outcome = process_blob(name, etag=etag)
        seconds = time.perf_counter() - started
        peak = peak_rss_mib()
        record = upload_records.find_by_id(ObjectId(outcome.upload_id))
    finally:
        drop_bench_database()
    decision = outcome.result.value
    if outcome.rejection_reason is not None:
        decision += f" {outcome.rejection_reason.value}"
    figures = Measurement(
        outcome=decision,
        scan=record.get("scan", "unknown") if record else "unknown",
        before_mib=before,
        peak_mib=peak,
        peak_reset=peak_reset,
        seconds=seconds,
        size_mib=path.stat().st_size / MIB,
    )
    print(json.dumps(asdict(figures)))


def upload_through_api(case: Case, path: Path) -> tuple[str, str]:
    """Create the upload as a signed-in user would and PUT the file; (blob name, ETag)."""
    import requests

    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    register_user(email, client_ip=CLIENT_IP)
    login = call("auth_login", login_request(email, client_ip=CLIENT_IP), expect=200)
    token = response_json(login)["access_token"]
    request = http_request(
        "POST",
        "/v1/uploads",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": CLIENT_IP},
        json_body={
            "filename": case.filename,
            "content_type": case.content_type,
            "size_bytes": path.stat().st_size,
        },
    )
    upload: dict[str, Any] = response_json(call("uploads", request, expect=201))
    instructions = upload["upload"]
    with path.open("rb") as body:
        # A file object is sent in blocks, never read whole.
        response = requests.put(
            instructions["url"],
            data=body,
            headers=instructions["headers"],
            timeout=PUT_TIMEOUT_SECONDS,
        )
    if response.status_code != 201:
        raise RuntimeError(f"PUT to the upload URL answered {response.status_code}")
    return f"{upload['owner_id']}/{upload['id']}", str(response.headers["ETag"])


def reset_peak_memory() -> bool:
    """Reset VmHWM to the current RSS so set-up does not count; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text(RESET_PEAK)
    except OSError:
        return False
    return True


# --- parent: Azurite, clamd, files, one child per case ----------------------------------


def measure(case: Case, workdir: Path, connection_string: str, clamd_url: str) -> Measurement:
    """Write the case's file, run a fresh child on it, and delete the file."""
    path = case.write(workdir / case.filename)
    try:
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                *("--child", case.key, str(path)),
                *("--storage", connection_string, "--clamd-url", clamd_url),
            ],
            check=False,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
    finally:
        path.unlink()
    if completed.returncode != 0:
        raise RuntimeError(f"{case.key} child failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return Measurement(**figures)


def run_cases(
    workdir: Path, connection_string: str, cases: list[Case], *, clamd_url: str
) -> list[Result]:
    """Measure every case with one scanner setting; print a line and return a result each."""
    scanning = "clamd scan" if clamd_url else "scan off"
    print(f"Processor, fresh process each, {scanning}:")
    results = []
    for case in cases:
        figures = measure(case, workdir, connection_string, clamd_url)
        size = f"{figures.size_mib:.0f} MiB"
        surprise = "" if figures.outcome == case.expected else f"  UNEXPECTED, not {case.expected}"
        print(
            f"  {case.label:30} {size:>8} -> {figures.outcome:23} scan {figures.scan:8} "
            f"peak {figures.peak_mib:6.1f} MiB, before {figures.before_mib:5.1f} MiB, "
            f"growth {figures.growth_mib:6.1f} MiB, {figures.seconds:4.1f} s{surprise}"
        )
        if not figures.peak_reset:
            print("    (VmHWM could not be reset: the peak includes the upload's set-up)")
        results.append(
            Result(
                bench="processor",
                metric=f"process_blob peak, {case.label} -> {figures.outcome} ({scanning})",
                value=round(figures.peak_mib, 1),
                unit="MiB",
                target=PEAK_TARGET_MIB,
            )
        )
    return results


@contextmanager
def optional_clamd(workdir: Path, *, wanted: bool) -> Iterator[str | None]:
    """A running clamd's URL, or None (with the reason printed) when there is none."""
    if not wanted:
        yield None
        return
    import pytest

    from tests.clamd_server import clamd_binary, running_clamd

    with ExitStack() as stack:
        url: str | None = None
        try:
            clamd_binary()
            url = stack.enter_context(running_clamd(workdir / "clamd"))
        except (pytest.skip.Exception, pytest.fail.Exception) as missing:
            print(f"SKIP clamd runs: {missing.msg}")
        except RuntimeError as failed:  # its first line says why; the rest is clamd's log
            print(f"SKIP clamd runs: {str(failed).splitlines()[0]}")
        yield url


def spool_location() -> str:
    """Where the processor spools blobs (tempfile's directory) and its file system type."""
    directory = Path(tempfile.gettempdir()).resolve()
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        _, mount_point, fs_type, *_ = line.split()
        inside = directory == Path(mount_point) or Path(mount_point) in directory.parents
        if inside and len(mount_point) > len(best):
            best, kind = mount_point, fs_type
    return f"{directory} ({kind})"


def bench(*, with_clamd: bool, cases: list[Case]) -> list[Result]:
    """Start Azurite (and clamd), measure each case, stop them; no results without Azurite."""
    from devhost.azurite import azurite_binary
    from tests.azurite_server import MISSING_REASON, running_azurite

    if azurite_binary() is None:
        print(f"SKIP processor memory bench: {MISSING_REASON}")
        return []
    print(f"Spooled to {spool_location()}; a tmpfs spool would hold the blob in RAM.")
    with (
        tempfile.TemporaryDirectory(prefix="bench-processor-") as tmp,
        running_azurite() as azurite,
    ):
        workdir = Path(tmp)
        results = run_cases(workdir, azurite.connection_string, cases, clamd_url="")
        with optional_clamd(workdir, wanted=with_clamd) as clamd_url:
            if clamd_url is not None:
                results += run_cases(workdir, azurite.connection_string, cases, clamd_url=clamd_url)
    return results


def main() -> int:
    """Measure each case (or, with --child, one of them in this process)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-clamd", action="store_true", help="skip the runs with clamd")
    parser.add_argument(
        "--cases", help=f"comma-separated cases to run (default all: {', '.join(CASES)})"
    )
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    parser.add_argument("--clamd-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case_key, path = args.child
        child(CASES[case_key], Path(path), args.storage, args.clamd_url)
        return 0
    use_app_environment()  # Azurite's set-up reads the app's container names
    chosen = [CASES[key] for key in args.cases.split(",")] if args.cases else list(CASES.values())
    emit(bench(with_clamd=not args.no_clamd, cases=chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
