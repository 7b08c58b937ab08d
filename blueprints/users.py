"""Users: one's own profile, and account management for admins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest
from shared.http.routes import USER_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.users import (
        AccountDelete,
        PasswordChange,
        UserCreate,
        UserListQuery,
        UserPublic,
        UsersPage,
        UserUpdate,
        UserUpdateMe,
    )

api = HttpApi(tags=["users"])
ME = "v1/users/me"
ONE_USER = f"v1/users/{USER_ID}"


@api.get(ME, name="users_me_get", summary="The signed-in user", min_role=Role.GUEST)
def me(request: ApiRequest) -> UserPublic:
    """Read from the request's principal: no extra database read."""
    from shared.services import users

    return users.me(request.user)


@api.patch(ME, name="users_me_update", summary="Edit one's own profile", min_role=Role.GUEST)
def update_me(request: ApiRequest, body: UserUpdateMe) -> UserPublic:
    """Only full_name; role, is_active, email, password or id give 422."""
    from shared.services import users

    return users.update_me(request.user, body)


@api.delete(
    ME,
    name="users_me_delete",
    summary="Close one's own account",
    status=204,
    min_role=Role.GUEST,
    errors=[400, 409],
)
def delete_me(request: ApiRequest, body: AccountDelete) -> None:
    """The account, its tokens and its uploads are gone."""
    from shared.services import users

    users.delete_me(request.user, body.password, caller=request.caller)


@api.post(
    "v1/users/me/password",
    name="users_me_password",
    summary="Change one's password",
    status=204,
    min_role=Role.GUEST,
    errors=[400],
)
def change_password(request: ApiRequest, body: PasswordChange) -> None:
    """Other sessions end; this one keeps its refresh token. 400 invalid_password."""
    from shared.services import users

    users.change_password(request.user, body, caller=request.caller)


@api.get("v1/users", name="users_list", summary="List users", min_role=Role.ADMIN)
def list_users(request: ApiRequest, query: UserListQuery) -> UsersPage:
    """Newest first; q matches the start of the email or name."""
    from shared.services import users

    return users.list_users(query)


@api.post(
    "v1/users",
    name="users_create",
    summary="Create a user",
    status=201,
    min_role=Role.ADMIN,
    errors=[409],
)
def create_user(request: ApiRequest, body: UserCreate) -> UserPublic:
    """Any role; the same password rules as registration."""
    from shared.services import users

    return users.create_user(body, caller=request.caller)


@api.get(ONE_USER, name="users_get", summary="One user", min_role=Role.ADMIN, errors=[404])
def get_user(request: ApiRequest) -> UserPublic:
    """404 for malformed or unknown ids."""
    from shared.services import users

    return users.get_user(request.route_params["user_id"])


@api.patch(
    ONE_USER, name="users_update", summary="Edit a user", min_role=Role.ADMIN, errors=[404, 409]
)
def update_user(request: ApiRequest, body: UserUpdate) -> UserPublic:
    """Deactivating or changing the role ends the user's sessions."""
    from shared.services import users

    return users.update_user(request.route_params["user_id"], body, caller=request.caller)


@api.delete(
    ONE_USER,
    name="users_delete",
    summary="Delete a user",
    status=204,
    min_role=Role.ADMIN,
    errors=[404, 409],
)
def delete_user(request: ApiRequest) -> None:
    """Removes the account, its tokens and its uploads."""
    from shared.services import users

    users.delete_user(request.route_params["user_id"], caller=request.caller)


bp = api.blueprint()
