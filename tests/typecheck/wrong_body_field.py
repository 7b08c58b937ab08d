"""A handler that misspells a body field: mypy must reject it (see test_typed_contract.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest

if TYPE_CHECKING:
    from shared.schemas.auth import LoginRequest, Tokens

api = HttpApi(tags=["typecheck"])


@api.post("typecheck/login", name="typecheck_login", summary="never registered")
def login(request: ApiRequest, body: LoginRequest) -> Tokens:
    """The misspelt field below is the error mypy must report."""
    raise NotImplementedError(body.pasword)
