"""Profiles and account management, for the user themself and for admins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bson import ObjectId

from shared.db.records import UserRecord
from shared.errors import Conflict, NotFound
from shared.identity import Caller, Principal, Role
from shared.repositories import login_throttle, password_resets, refresh_tokens, users
from shared.repositories.ids import parse_id
from shared.schemas.users import (
    PasswordChange,
    UserCreate,
    UserListQuery,
    UserPublic,
    UsersPage,
    UserUpdate,
    UserUpdateMe,
)
from shared.services import attempts, audit, sessions
from shared.services.accounts import (
    check_new_password,
    create_account,
    public_user,
    set_password,
)


def _existing(user_id: str) -> UserRecord:
    """The user with this id; malformed and unknown ids are both 404."""
    oid = parse_id(user_id)
    user = users.find_by_id(oid) if oid else None
    if user is None:
        raise NotFound("No user with this id")
    return user


def me(principal: Principal) -> UserPublic:
    return public_user(principal.user)


def update_me(principal: Principal, changes: UserUpdateMe) -> UserPublic:
    updated = users.update_user(ObjectId(principal.user_id), changes.model_dump(exclude_unset=True))
    if updated is None:
        raise NotFound("No user with this id")
    return public_user(updated)


def change_password(principal: Principal, payload: PasswordChange, *, caller: Caller) -> None:
    """New password after proving the current one; other sessions end, this one may refresh."""
    user = _existing(principal.user_id)
    attempts.confirm_password(
        user, payload.current_password, caller=caller, detail="The current password is not correct"
    )
    check_new_password(
        payload.new_password,
        email=user["email"],
        full_name=user["full_name"],
        field="new_password",
    )
    set_password(user["_id"], payload.new_password)
    sessions.revoke_all(user["_id"], keep_session=principal.session_id)
    audit.record("user.password_changed", caller=caller, target_id=principal.user_id)


def delete_me(principal: Principal, password: str, *, caller: Caller) -> None:
    """Close one's own account after confirming the password."""
    user = _existing(principal.user_id)
    attempts.confirm_password(user, password, caller=caller)
    with _keeping_an_admin(user):
        _delete(user, caller=caller)


def list_users(query: UserListQuery) -> UsersPage:
    from shared.schemas.fields import normalize_email

    page = users.list_users(
        limit=query.limit,
        cursor=query.cursor,
        prefix=normalize_email(query.q) if query.q else None,
        role=query.role.value if query.role else None,
        is_active=query.is_active,
    )
    return UsersPage(
        items=[public_user(doc) for doc in page.documents], next_cursor=page.next_cursor
    )


def create_user(payload: UserCreate, *, caller: Caller) -> UserPublic:
    """An account of any role, made by an admin."""
    user = create_account(
        email=payload.email,
        password=payload.password,
        full_name=payload.full_name,
        role=payload.role,
    )
    audit.record(
        "user.created", caller=caller, target_id=str(user["_id"]), details={"role": user["role"]}
    )
    return public_user(user)


def get_user(user_id: str) -> UserPublic:
    return public_user(_existing(user_id))


def update_user(user_id: str, payload: UserUpdate, *, caller: Caller) -> UserPublic:
    """Admin edit; a role change or deactivation ends every session of the user."""
    user = _existing(user_id)
    changes: dict[str, Any] = payload.model_dump(exclude_unset=True, mode="json")
    if changes.get("role") is None:
        changes.pop("role", None)
    if changes.get("is_active") is None:
        changes.pop("is_active", None)
    role_changed = "role" in changes and changes["role"] != user["role"]
    deactivated = changes.get("is_active") is False and user["is_active"]
    stepping_down = role_changed or deactivated
    with _keeping_an_admin(user if stepping_down else None):
        # The guard held the account inactive; the update leaves it as requested.
        updated = users.update_user(
            user["_id"], {"is_active": user["is_active"], **changes} if stepping_down else changes
        )
    if updated is None:
        raise NotFound("No user with this id")
    if role_changed or deactivated:
        sessions.revoke_all(user["_id"])
    if role_changed:
        audit.record(
            "user.role_changed",
            caller=caller,
            target_id=user_id,
            details={"from": user["role"], "to": changes["role"]},
        )
    if "is_active" in changes and changes["is_active"] != user["is_active"]:
        audit.record(
            "user.activation_changed",
            caller=caller,
            target_id=user_id,
            details={"is_active": changes["is_active"]},
        )
    if changes.get("is_active") is True:
        login_throttle.clear(user["email"])
    return public_user(updated)


def delete_user(user_id: str, *, caller: Caller) -> None:
    user = _existing(user_id)
    with _keeping_an_admin(user):
        _delete(user, caller=caller)


@contextmanager
def _keeping_an_admin(user: UserRecord | None) -> Iterator[None]:
    """Run a demotion, deactivation or deletion only if another active admin remains.

    The admin is first made inactive, then the remaining active admins are counted:
    two admins removing each other at once both see zero and both are refused, where a
    check-then-act would let both through and leave nobody to administer the product.
    """
    if user is None or not (user["role"] == Role.ADMIN.value and user["is_active"]):
        yield
        return
    users.set_active(user["_id"], False)
    try:
        if users.count_active_admins() == 0:
            raise Conflict("The last active admin cannot be removed or demoted", code="last_admin")
        yield
    except BaseException:
        users.set_active(user["_id"], True)
        raise


def _delete(user: UserRecord, *, caller: Caller) -> None:
    from shared.services import uploads

    user_id = user["_id"]
    uploads.delete_all_for_owner(str(user_id))
    refresh_tokens.delete_for_user(user_id)
    password_resets.delete_for_user(user_id)
    login_throttle.clear(user["email"])
    users.delete_user(user_id)
    audit.record("user.deleted", caller=caller, target_id=str(user_id))
