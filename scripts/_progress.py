"""A tqdm progress bar per collection for the backup and restore scripts (stderr)."""

from __future__ import annotations

from shared.db.dump import Progress, ProgressFactory


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
