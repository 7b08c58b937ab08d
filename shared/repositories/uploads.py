"""All access to the ``uploads`` collection."""

from __future__ import annotations

from typing import Any

from shared.db import collections
from shared.db.client import Document


def find_for_owner(owner_id: str) -> list[Document]:
    return list(collections.uploads().find({"owner_id": owner_id}))


def delete_for_owner(owner_id: str) -> int:
    return collections.uploads().delete_many({"owner_id": owner_id}).deleted_count


def stats() -> dict[str, Any]:
    """Upload counts by status and total declared bytes, in one aggregation."""
    pipeline: list[dict[str, Any]] = [
        {"$group": {"_id": "$status", "count": {"$sum": 1}, "bytes": {"$sum": "$size_bytes"}}}
    ]
    total, size, by_status = 0, 0, {}
    for row in collections.uploads().aggregate(pipeline):
        total += int(row["count"])
        size += int(row["bytes"] or 0)
        by_status[str(row["_id"])] = int(row["count"])
    return {"total": total, "bytes": size, "by_status": by_status}
