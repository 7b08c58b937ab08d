"""What `make run` needs besides the functions: Azurite, and the app's data bootstrap.

With the embedded database the data lives only in this process, so the bootstrap
(indexes, migrations, containers, first admin) must run here, not in a separate
`scripts/init_db.py` process whose database would vanish with it.
"""

from __future__ import annotations

import os
import re
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


def bootstrap_app_data() -> list[str]:
    """Run the app's idempotent bootstrap; lines for the banner."""
    from shared.config import get_settings
    from shared.services.bootstrap import bootstrap

    report = bootstrap()
    settings = get_settings()
    lines = [
        f"Database: {_describe_database(settings.database_url)}, migrations {report.migrations}"
    ]
    if report.superuser != "not configured":
        lines.append(f"Admin: {settings.FIRST_SUPERUSER_EMAIL} ({report.superuser})")
    return lines


def _describe_database(url: str) -> str:
    if url.startswith("mongomock://"):
        return "embedded in-memory (data is lost when the host stops)"
    return url.rsplit("@", maxsplit=1)[-1].split("?", maxsplit=1)[0]  # never print credentials
