"""What `make run` needs besides the functions: Azurite, and the app's data bootstrap.

With the embedded database the data lives only in this process, so the bootstrap
(indexes, migrations, containers, first admin) must run here, not in a separate
`scripts/init_db.py` process whose database would vanish with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from devhost.azurite import AzuriteProcess, azurite_connection_string, dev_origins, start_azurite

DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
AZURITE_PORT = 10000


def start_local_storage(*, app_port: int, location: Path) -> AzuriteProcess:
    """Start (or reuse) Azurite and point the app's storage settings at it."""
    origins = [f"http://127.0.0.1:{app_port}", f"http://localhost:{app_port}", *dev_origins()]
    azurite = start_azurite(AZURITE_PORT, location, origins=list(dict.fromkeys(origins)))
    connection = azurite_connection_string(azurite.port)
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "UploadsStorage", "AzureWebJobsStorage"):
        # An explicit account chosen in the environment wins; the dev shorthand is resolved.
        if os.environ.get(name, DEVELOPMENT_STORAGE) in ("", DEVELOPMENT_STORAGE):
            os.environ[name] = connection
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
