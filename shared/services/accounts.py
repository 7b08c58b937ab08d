"""Rules every account path shares: creation, password policy, the public view of a user."""

from __future__ import annotations

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from shared.config import get_settings
from shared.db.records import AdmittedUser, UserRecord
from shared.errors import Conflict, ValidationFailed
from shared.identity import Role
from shared.repositories import password_resets, users
from shared.schemas.users import UserPublic
from shared.security import passwords


def check_new_password(
    password: str, *, email: str, full_name: str | None, field: str = "password"
) -> None:
    """Refuse a weak or breached password with a 422 that says why."""
    try:
        passwords.check_password_policy(password, email=email, full_name=full_name)
    except passwords.WeakPasswordError as exc:
        raise _weak(str(exc), field) from None
    if get_settings().PASSWORD_BREACH_CHECK:
        from shared.services.breach import is_password_breached

        if is_password_breached(password):
            raise _weak(
                "This password has appeared in a known data breach; choose another one", field
            )


def _weak(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[{"loc": ["body", field], "msg": message, "type": "weak_password"}]
    )


def create_account(*, email: str, password: str, full_name: str | None, role: Role) -> UserRecord:
    """Insert a user after the password policy; 409 email_taken when the address is in use."""
    check_new_password(password, email=email, full_name=full_name)
    try:
        return users.insert_user(
            email=email,
            password_hash=passwords.hash_password(password),
            full_name=full_name,
            role=role.value,
        )
    except DuplicateKeyError:
        raise Conflict("An account with this email already exists", code="email_taken") from None


def set_password(user_id: ObjectId, new_password: str) -> None:
    """Store a new password; every reset link still in a mailbox dies with the old one."""
    users.update_user(user_id, {"password_hash": passwords.hash_password(new_password)})
    password_resets.delete_for_user(user_id)


def public_user(user: AdmittedUser) -> UserPublic:
    """What a client may see of a user document."""
    return UserPublic(
        id=str(user["_id"]),
        email=user["email"],
        full_name=user["full_name"],
        role=user["role"],
        is_active=user["is_active"],
        mfa_enabled=user["mfa"]["enabled"],
        created_at=user["created_at"],
        updated_at=user["updated_at"],
    )
