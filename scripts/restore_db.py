"""Restore a dump written by backup_db.py (or mongodump) into the application database.

DIR is the directory holding the .bson files (OUT/<database> of a backup) or the OUT
directory itself when it holds exactly one database. Each collection's document count
is checked after loading. A production database (ENVIRONMENT=production) is only
written with --yes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts._dump_cli import FAILURES, add_common_options, progress_bars, report_failure
from shared.config import get_settings
from shared.db.client import get_database
from shared.db.dump import DumpError, dump_contents, restore


def dump_directory(path: Path) -> Path:
    """The directory holding the .bson files: ``path`` or its only database folder."""
    if dump_contents(path):
        return path
    databases = (
        [child for child in sorted(path.iterdir()) if dump_contents(child)] if path.is_dir() else []
    )
    if len(databases) == 1:
        return databases[0]
    if not databases:
        raise DumpError(f"{path} holds no dump (.bson files)")
    names = ", ".join(child.name for child in databases)
    raise DumpError(f"{path} holds several databases ({names}); name one of them")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path, help="the dump directory")
    parser.add_argument(
        "--drop", action="store_true", help="drop each collection before loading it"
    )
    add_common_options(parser, batch_help="documents per insert")
    parser.add_argument("--yes", action="store_true", help="allow writing a production database")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if settings.is_production and not args.yes:
            print(
                f"error: refusing to restore into the production database "
                f"{settings.DATABASE_NAME!r} without --yes",
                file=sys.stderr,
            )
            return 2
        source = dump_directory(args.dir)
        results = restore(
            get_database(),
            source,
            drop=args.drop,
            collections=args.collection,
            batch_size=max(1, args.batch_size),
            progress=progress_bars(not args.quiet),
        )
    except FAILURES as exc:
        return report_failure(exc)
    for result in results:
        skipped = (
            f", {result.skipped_duplicates} already present" if result.skipped_duplicates else ""
        )
        restored = f"{result.documents} documents restored{skipped}"
        print(f"{result.name}: {restored}, {result.indexes} indexes")
    print(f"restored {source} into {settings.DATABASE_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
