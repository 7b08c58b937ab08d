"""Prepare a deployment: indexes and migrations, blob containers, the first superuser.

Idempotent; run it after every deploy. With the embedded database (mongomock://) the
data lives only inside one process, so the local host runs the same bootstrap itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.config import SettingsError
from shared.errors import ValidationFailed
from shared.services.bootstrap import bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--skip-containers", action="store_true", help="do not create the blob containers"
    )
    args = parser.parse_args(argv)
    try:
        report = bootstrap(containers=not args.skip_containers)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValidationFailed, ValueError) as exc:  # e.g. a weak FIRST_SUPERUSER_PASSWORD
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"migrations applied: {report.migrations}")
    containers = "ready" if report.containers_ready else "skipped (no storage configured)"
    print(f"blob containers: {containers}")
    print(f"first superuser: {report.superuser}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
