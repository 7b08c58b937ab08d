"""Users: one's own profile, and account management for admins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.pipeline import ApiRequest, endpoint
from shared.http.routes import USER_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.users import (
        UserPublic,
        UsersPage,
    )

bp = func.Blueprint()
TAGS = ["users"]


@endpoint(
    bp,
    name="users_me_get",
    route="v1/users/me",
    method="GET",
    summary="The signed-in user",
    tags=TAGS,
    role=Role.GUEST,
    response="users.UserPublic",
)
def me(request: ApiRequest) -> UserPublic:
    """Read from the request's principal: no extra database read."""
    from shared.services import users

    return users.me(request.user)


@endpoint(
    bp,
    name="users_me_update",
    route="v1/users/me",
    method="PATCH",
    summary="Edit one's own profile",
    tags=TAGS,
    role=Role.GUEST,
    body="users.UserUpdateMe",
    response="users.UserPublic",
)
def update_me(request: ApiRequest) -> UserPublic:
    """Only full_name; role, is_active, email, password or id give 422."""
    from shared.services import users

    return users.update_me(request.user, request.body)


@endpoint(
    bp,
    name="users_me_password",
    route="v1/users/me/password",
    method="POST",
    summary="Change one's password",
    tags=TAGS,
    status=204,
    role=Role.GUEST,
    body="users.PasswordChange",
    errors_=[400],
)
def change_password(request: ApiRequest) -> None:
    """Other sessions end; this one keeps its refresh token. 400 invalid_password."""
    from shared.services import users

    users.change_password(request.user, request.body, caller=request.caller)


@endpoint(
    bp,
    name="users_me_delete",
    route="v1/users/me",
    method="DELETE",
    summary="Close one's own account",
    tags=TAGS,
    status=204,
    role=Role.GUEST,
    body="users.AccountDelete",
    errors_=[400, 409],
)
def delete_me(request: ApiRequest) -> None:
    """The account, its tokens and its uploads are gone."""
    from shared.services import users

    users.delete_me(request.user, request.body.password, caller=request.caller)


@endpoint(
    bp,
    name="users_list",
    route="v1/users",
    method="GET",
    summary="List users",
    tags=TAGS,
    role=Role.ADMIN,
    query="users.UserListQuery",
    response="users.UsersPage",
)
def list_users(request: ApiRequest) -> UsersPage:
    """Newest first; q matches the start of the email or name."""
    from shared.services import users

    return users.list_users(request.query)


@endpoint(
    bp,
    name="users_create",
    route="v1/users",
    method="POST",
    summary="Create a user",
    tags=TAGS,
    status=201,
    role=Role.ADMIN,
    body="users.UserCreate",
    response="users.UserPublic",
    errors_=[409],
)
def create_user(request: ApiRequest) -> UserPublic:
    """Any role; the same password rules as registration."""
    from shared.services import users

    return users.create_user(request.body, caller=request.caller)


@endpoint(
    bp,
    name="users_get",
    route=f"v1/users/{USER_ID}",
    method="GET",
    summary="One user",
    tags=TAGS,
    role=Role.ADMIN,
    response="users.UserPublic",
    errors_=[404],
)
def get_user(request: ApiRequest) -> UserPublic:
    """404 for malformed or unknown ids."""
    from shared.services import users

    return users.get_user(request.route_params["user_id"])


@endpoint(
    bp,
    name="users_update",
    route=f"v1/users/{USER_ID}",
    method="PATCH",
    summary="Edit a user",
    tags=TAGS,
    role=Role.ADMIN,
    body="users.UserUpdate",
    response="users.UserPublic",
    errors_=[404, 409],
)
def update_user(request: ApiRequest) -> UserPublic:
    """Deactivating or changing the role ends the user's sessions."""
    from shared.services import users

    return users.update_user(request.route_params["user_id"], request.body, caller=request.caller)


@endpoint(
    bp,
    name="users_delete",
    route=f"v1/users/{USER_ID}",
    method="DELETE",
    summary="Delete a user",
    tags=TAGS,
    status=204,
    role=Role.ADMIN,
    errors_=[404, 409],
)
def delete_user(request: ApiRequest) -> None:
    """Removes the account, its tokens and its uploads."""
    from shared.services import users

    users.delete_user(request.route_params["user_id"], caller=request.caller)
