"""Reusable field types with the product's normalisation rules."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from shared.email_address import InvalidEmail, canonical_email, lookup_email


def normalize_email(value: str) -> str:
    """The canonical form of a typed address (see shared.email_address); never refuses."""
    return lookup_email(value)


def valid_email(value: str) -> str:
    """The canonical form of a new address; ValueError when it is not valid."""
    try:
        return canonical_email(value)
    except InvalidEmail as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None


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
Otp = Annotated[str, StringConstraints(min_length=6, max_length=32)]
OpaqueToken = Annotated[str, StringConstraints(min_length=16, max_length=512)]
PageLimit = Annotated[int, Field(ge=1, le=100, description="Items per page (1..100)")]
Cursor = Annotated[
    str, StringConstraints(max_length=200), Field(description="next_cursor of the previous page")
]
