"""Bring a deployment's data to a usable state: schema, containers, first admin."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.config import get_settings
from shared.db.client import get_database
from shared.db.migrations import applied_versions
from shared.errors import Conflict
from shared.identity import SYSTEM, Role
from shared.schemas.fields import valid_email
from shared.services import audit
from shared.services.accounts import create_account

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BootstrapReport:
    migrations: list[int]
    containers_ready: bool
    superuser: str  # "created", "exists" or "not configured"


def create_admin(*, email: str, password: str, full_name: str | None = None) -> bool:
    """Create an admin account; False when the email already has one (nothing changes)."""
    try:
        user = create_account(
            email=valid_email(email), password=password, full_name=full_name, role=Role.ADMIN
        )
    except Conflict:
        return False
    audit.record(
        "user.created", caller=SYSTEM, target_id=str(user["_id"]), details={"role": "admin"}
    )
    return True


def bootstrap(*, containers: bool = True) -> BootstrapReport:
    """Idempotent: indexes and migrations, storage containers, the first superuser."""
    settings = get_settings()
    database = get_database()  # applies pending migrations
    containers_ready = False
    if containers:
        from shared.services.storage import clients, provisioning

        if clients.storage_configured():
            provisioning.ensure_containers()
            containers_ready = True
    superuser = "not configured"
    if settings.FIRST_SUPERUSER_EMAIL and settings.FIRST_SUPERUSER_PASSWORD:
        created = create_admin(
            email=settings.FIRST_SUPERUSER_EMAIL, password=settings.FIRST_SUPERUSER_PASSWORD
        )
        superuser = "created" if created else "exists"
    return BootstrapReport(
        migrations=sorted(applied_versions(database)),
        containers_ready=containers_ready,
        superuser=superuser,
    )
