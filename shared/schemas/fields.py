"""Reusable field types with the product's normalisation rules."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from shared.security.emails import InvalidEmail, canonical_email, lookup_email


def normalize_email(value: str) -> str:
    """The canonical form of a typed address (see shared.security.emails); never refuses."""
    return lookup_email(value)


def valid_email(value: str) -> str:
    """The canonical form of a new address; ValueError when it is not valid."""
    try:
        return canonical_email(value)
    except InvalidEmail as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None


def _utc_instant(value: datetime) -> datetime:
    """The same instant in UTC; refuses one outside the years 1..9999 once converted.

    ``9999-12-31T23:59:59-23:59`` is a valid ISO 8601 text whose UTC instant lies in
    year 10000: converting it (or storing it, or querying with it) overflows.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a time without an offset is read as UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("The time is out of range once converted to UTC") from None


def _clean_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("Names may not contain control or invisible format characters")
    return value


# A new address (registration, admin create): validated and normalised.
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(valid_email)]
# An address typed at login or recovery: only normalised, so a typo is just "not found".
EmailLookup = Annotated[
    str, StringConstraints(min_length=1, max_length=254), AfterValidator(normalize_email)
]
# Strength rules live in shared.security.passwords; this only bounds the work done.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
FullName = Annotated[str, StringConstraints(max_length=100), AfterValidator(_clean_name)]
# Every query filter that names a record takes the id as clients see it: 24 hex digits.
ObjectIdText = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{24}$"),
    AfterValidator(str.lower),  # the form ids are stored and shown in
    Field(description="An object id: 24 hexadecimal digits"),
]
# A point in time for a filter, always compared in UTC.
Instant = Annotated[datetime, AfterValidator(_utc_instant)]
# A free-text filter (an audit action, a search prefix): bounded, never a query operator.
FilterText = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Otp = Annotated[str, StringConstraints(min_length=6, max_length=32)]
OpaqueToken = Annotated[str, StringConstraints(min_length=16, max_length=512)]
PageLimit = Annotated[int, Field(ge=1, le=100, description="Items per page (1..100)")]
Cursor = Annotated[
    str, StringConstraints(max_length=200), Field(description="next_cursor of the previous page")
]
