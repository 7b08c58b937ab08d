"""Code that misspells stored record fields: mypy must reject it (test_typed_records.py).

Its twin, right_record_field.py, reads the same fields spelt right and must pass.
"""

from __future__ import annotations

from bson import ObjectId

from shared.identity import Principal
from shared.repositories import uploads, users


def password_hash_of(email: str) -> str | None:
    user = users.find_by_email(email)
    return user["pasword_hash"] if user else None


def owner_of(upload_id: ObjectId) -> str | None:
    upload = uploads.find_by_id(upload_id)
    return upload["owner"] if upload else None


def has_second_factor(principal: Principal) -> bool:
    return bool(principal.user["mfa"]["enabeld"])
