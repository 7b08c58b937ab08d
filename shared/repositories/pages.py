"""Keyset pagination over ``_id`` (newest first): no skip, stable under inserts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymongo import DESCENDING
from pymongo.collection import Collection

from shared.repositories.ids import decode_cursor, encode_cursor

RecordT = TypeVar("RecordT", bound=Mapping[str, Any])


@dataclass(frozen=True)
class DocumentPage(Generic[RecordT]):
    documents: list[RecordT]
    next_cursor: str | None


def find_page(
    collection: Collection[RecordT],
    query: dict[str, Any],
    *,
    limit: int,
    cursor: str | None,
    projection: dict[str, int] | None = None,
) -> DocumentPage[RecordT]:
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
