"""User requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.identity import Role
from shared.schemas.base import Omittable, Page, QueryModel, RequestModel, ResponseModel
from shared.schemas.fields import Cursor, Email, FullName, PageLimit, Password


class UserPublic(ResponseModel):
    """A user as clients see it: never hashes, secrets or token data."""

    id: str
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime


UsersPage = Page[UserPublic]


# In an edit, a null full_name removes the name; leaving the field out keeps it.
ClearableName = Annotated[FullName | None, Field(description="null removes the name")]


class UserUpdateMe(RequestModel):
    full_name: ClearableName = None


class PasswordChange(RequestModel):
    current_password: Password
    new_password: Password


class AccountDelete(RequestModel):
    password: Password


class UserCreate(RequestModel):
    email: Email
    password: Password
    full_name: Omittable[FullName] = None
    role: Role = Role.USER


class UserUpdate(RequestModel):
    full_name: ClearableName = None
    role: Omittable[Role] = None
    is_active: Omittable[bool] = None


class UserListQuery(QueryModel):
    limit: PageLimit = 20
    cursor: Cursor | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    role: Role | None = None
    is_active: bool | None = None
