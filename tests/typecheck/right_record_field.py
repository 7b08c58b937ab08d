"""The twin of wrong_record_field.py with every field spelt right: mypy must accept it.

It proves the errors there come from the misspellings alone.
"""

from __future__ import annotations

from bson import ObjectId

from shared.identity import Principal
from shared.repositories import uploads, users


def password_hash_of(email: str) -> str | None:
    user = users.find_by_email(email)
    return user["password_hash"] if user else None


def owner_of(upload_id: ObjectId) -> str | None:
    upload = uploads.find_by_id(upload_id)
    return upload["owner_id"] if upload else None


def has_second_factor(principal: Principal) -> bool:
    return bool(principal.user["mfa"]["enabled"])
