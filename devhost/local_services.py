"""What `make run` needs besides the functions: Azurite, and the app's data bootstrap.

With the embedded database the data lives only in this process, so the bootstrap
(indexes, migrations, containers, first admin) must run here, not in a separate
`scripts/init_db.py` process whose database would vanish with it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from devhost.azurite import (
    AZURITE_ACCOUNT_NAME,
    DEFAULT_PORT,
    AzuriteProcess,
    azurite_connection_string,
    dev_origins,
    start_azurite,
)

DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
AZURITE_PORT = DEFAULT_PORT
STORAGE_SETTINGS = ("AZURE_STORAGE_CONNECTION_STRING", "UploadsStorage", "AzureWebJobsStorage")
_LOOPBACK_EMULATOR = re.compile(
    rf"AccountName={AZURITE_ACCOUNT_NAME};.*BlobEndpoint=https?://(127\.0\.0\.1|localhost):\d+/",
    re.IGNORECASE,
)


def start_local_storage(
    *, app_port: int, location: Path, port: int = AZURITE_PORT
) -> AzuriteProcess:
    """Start (or reuse) this checkout's Azurite and point the app's storage settings at it.

    Another checkout's Azurite on ``port`` is left alone: this one moves to a free port.
    """
    origins = [f"http://127.0.0.1:{app_port}", f"http://localhost:{app_port}", *dev_origins()]
    azurite = start_azurite(
        port, location, origins=list(dict.fromkeys(origins)), move_if_taken=True
    )
    connection = azurite_connection_string(azurite.port)
    for name in STORAGE_SETTINGS:
        # An explicit account chosen in the environment wins; the dev shorthand and the
        # loopback emulator (whatever port it names) mean "this checkout's Azurite".
        value = os.environ.get(name, DEVELOPMENT_STORAGE).strip()
        if value in ("", DEVELOPMENT_STORAGE) or _LOOPBACK_EMULATOR.search(value):
            os.environ[name] = connection
    from shared.config import reset_settings

    reset_settings()  # dev_origins() read the settings before the port was known
    return azurite


def bootstrap_app_data(*, kept_in: Path | None = None) -> list[str]:
    """Run the app's idempotent bootstrap; lines for the banner."""
    from shared.config import get_settings
    from shared.services.bootstrap import bootstrap

    report = bootstrap()
    settings = get_settings()
    database = _describe_database(settings.database_url)
    if kept_in is not None and _embedded():
        database = f"embedded in-memory, kept in {kept_in}/ across restarts"
    lines = [f"Database: {database}, migrations {report.migrations}"]
    if report.superuser != "not configured":
        lines.append(f"Admin: {settings.FIRST_SUPERUSER_EMAIL} ({report.superuser})")
    return lines


def _describe_database(url: str) -> str:
    if url.startswith("mongomock://"):
        return "embedded in-memory (data is lost when the host stops)"
    return url.rsplit("@", maxsplit=1)[-1].split("?", maxsplit=1)[0]  # never print credentials


def _embedded() -> bool:
    from shared.config import get_settings

    return get_settings().database_url.startswith("mongomock://")


def load_embedded_database(folder: Path, *, fresh: bool) -> str | None:
    """Load the embedded database saved in ``folder`` (mongodump layout); a banner line.

    Nothing happens for a real database; ``fresh`` starts empty (the next save replaces
    what the folder held).
    """
    if not _embedded():
        return None
    if fresh:
        return f"Local data: starting fresh (--fresh-db); {folder}/ is replaced on exit"
    from shared.db.client import get_database
    from shared.db.dump import database_dir, restore
    from shared.db.migrations import migrate

    database = get_database()
    saved = database_dir(folder, database.name)
    if not saved.is_dir():
        return f"Local data: none saved yet; saved to {folder}/ on exit"
    results = restore(database, saved, drop=True)
    # The load replaced the migrations record with the saved one: bring the saved data up
    # to this checkout's migrations (a pull may have added some since it was saved).
    migrated = migrate(database)
    documents = sum(result.documents for result in results)
    upgraded = f", migrated {migrated}" if migrated else ""
    return (
        f"Local data: {documents} documents loaded from {saved}/{upgraded}; "
        "saved there again on exit"
    )


def save_embedded_database(folder: Path) -> str | None:
    """Write the embedded database to ``folder``, replacing the previous save."""
    if not _embedded():
        return None
    from shared.db.client import get_database
    from shared.db.dump import dump

    staging = folder.with_name(f"{folder.name}.saving")
    previous = folder.with_name(f"{folder.name}.previous")
    for leftover in (staging, previous):
        shutil.rmtree(leftover, ignore_errors=True)
    results = dump(get_database(), staging)
    # Swap whole folders so an interrupted save never leaves half a database behind.
    if folder.exists():
        folder.rename(previous)
    staging.rename(folder)
    shutil.rmtree(previous, ignore_errors=True)
    documents = sum(result.documents for result in results)
    return f"Local data: {documents} documents saved to {folder}/"
