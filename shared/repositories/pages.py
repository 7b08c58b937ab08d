"""Keyset pagination over ``_id`` (newest first): no skip, stable under inserts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from shared.db.client import Document
from shared.repositories.ids import decode_cursor, encode_cursor


@dataclass(frozen=True)
class DocumentPage:
    documents: list[Document]
    next_cursor: str | None


def find_page(
    collection: Collection[Document],
    query: dict[str, Any],
    *,
    limit: int,
    cursor: str | None,
    projection: dict[str, int] | None = None,
) -> DocumentPage:
    """One page of ``query``, newest first, plus the cursor for the next page."""
    after = decode_cursor(cursor)
    if after is not None:
        query = {"$and": [query, {"_id": {"$lt": after}}]} if query else {"_id": {"$lt": after}}
    documents = list(collection.find(query, projection).sort("_id", DESCENDING).limit(limit + 1))
    has_more = len(documents) > limit
    documents = documents[:limit]
    return DocumentPage(
        documents=documents,
        next_cursor=encode_cursor(documents[-1]["_id"]) if has_more and documents else None,
    )
