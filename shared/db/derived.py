"""Values derived from stored documents, which writes keep and migrations build.

They live at the bottom of the database layer because both sides need them: the
repositories on every write, and the migrations (run by the client on first connect)
for the data that existed before.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.db.names import Document

# The _ids of the dashboard totals in the counters collection.
USER_TOTALS = "users"
UPLOAD_TOTALS = "uploads"


# Search by prefix matches the start of the email or of the name. Each user lists its
# prefixes (up to this length) in ``search_keys``, so one equality on that multikey
# index, already in _id order, serves a search page without sorting anything.
SEARCH_PREFIX_MAX = 16


def search_keys(email: str, full_name_lower: str | None) -> list[str]:
    """The prefixes of the email (``e:``) and of the case-folded name (``n:``)."""
    keys = [f"e:{email[:n]}" for n in range(1, min(len(email), SEARCH_PREFIX_MAX) + 1)]
    if full_name_lower:
        size = min(len(full_name_lower), SEARCH_PREFIX_MAX)
        keys += [f"n:{full_name_lower[:n]}" for n in range(1, size + 1)]
    return keys


def recount_users(users: Any) -> Document:
    """The user totals counted from ``users`` (a collection), as migration 5 stores them."""
    totals: Counter[str] = Counter()
    for row in users.aggregate(
        [{"$group": {"_id": {"role": "$role", "active": "$is_active"}, "n": {"$sum": 1}}}]
    ):
        n = int(row["n"])
        totals["total"] += n
        totals[f"by_role.{row['_id']['role']}"] += n
        if row["_id"]["active"]:
            totals["active"] += n
    return _nested(totals, ("total", "active"))


def recount_uploads(uploads: Any) -> Document:
    """The upload totals counted from ``uploads`` (a collection)."""
    totals: Counter[str] = Counter()
    pipeline = [{"$group": {"_id": "$status", "n": {"$sum": 1}, "bytes": {"$sum": "$size_bytes"}}}]
    for row in uploads.aggregate(pipeline):
        totals["total"] += int(row["n"])
        totals["bytes"] += int(row["bytes"] or 0)
        totals[f"by_status.{row['_id']}"] += int(row["n"])
    return _nested(totals, ("total", "bytes"))


def _nested(totals: Counter[str], plain: tuple[str, ...]) -> Document:
    document: Document = {name: totals[name] for name in plain}
    for key, value in totals.items():
        group, _, name = key.partition(".")
        if name:
            document.setdefault(group, {})[name] = value
    return document
