"""What backup_db.py and restore_db.py share: their common options, a tqdm progress bar
per collection (stderr), and one mapping of failures to messages and exit codes."""

from __future__ import annotations

import argparse
import sys

from pymongo.errors import PyMongoError

from shared.config import SettingsError
from shared.db.dump import DEFAULT_BATCH, DumpError, Progress, ProgressFactory

# What a run can fail with, reported without a traceback.
FAILURES = (SettingsError, DumpError, PyMongoError)


def add_common_options(parser: argparse.ArgumentParser, *, batch_help: str) -> None:
    """--collection (repeatable), --batch-size and --quiet."""
    parser.add_argument(
        "--collection", action="append", help="only this collection (repeatable)", default=None
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=batch_help)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def report_failure(exc: Exception) -> int:
    """Print one line for a failure of FAILURES; the exit code (2: settings, 1: the rest)."""
    if isinstance(exc, PyMongoError):
        print(f"error: database: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"error: {exc}", file=sys.stderr)
    return 2 if isinstance(exc, SettingsError) else 1


def progress_bars(enabled: bool) -> ProgressFactory | None:
    """A factory of tqdm bars, or None for no bars (``--quiet``)."""
    if not enabled:
        return None
    from tqdm import tqdm

    def bar(label: str, total: int, unit: str) -> Progress:
        scale = unit == "B"
        created: Progress = tqdm(total=total, desc=label, unit=unit, unit_scale=scale, leave=True)
        return created

    return bar
