"""Back up the application database in mongodump's layout (mongorestore can read it).

Writes OUT/<database>/<collection>.bson and <collection>.metadata.json (the indexes),
gzipped with --gzip, streaming each collection in cursor batches with a progress bar.
The database is the one DATABASE_URL and DATABASE_NAME name, as for the app.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts._dump_cli import FAILURES, add_common_options, progress_bars, report_failure
from shared.config import get_settings
from shared.db.client import get_database
from shared.db.dump import dump


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default backups/<UTC time>); the dump goes in OUT/<database>",
    )
    parser.add_argument("--gzip", action="store_true", help="compress every file (.gz)")
    add_common_options(parser, batch_help="documents per cursor batch")
    args = parser.parse_args(argv)
    out: Path = args.out or Path("backups") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        settings = get_settings()
        database = get_database()
        results = dump(
            database,
            out,
            compress=args.gzip,
            collections=args.collection,
            batch_size=max(1, args.batch_size),
            progress=progress_bars(not args.quiet),
        )
    except FAILURES as exc:
        return report_failure(exc)
    if settings.database_url.startswith("mongomock://"):
        print(
            "note: DATABASE_URL is the embedded database, which lives inside one process; "
            "`make run` already keeps its data in .localdb/ in this same layout",
            file=sys.stderr,
        )
    for result in results:
        print(f"{result.name}: {result.documents} documents, {result.indexes} indexes")
    print(f"backup of {settings.DATABASE_NAME} written to {out / database.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
