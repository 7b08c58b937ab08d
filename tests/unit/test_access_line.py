"""The access-log line is exactly the JSON that json.dumps writes for its fields."""

from __future__ import annotations

import json

import pytest

from shared.http.pipeline import access_line


@pytest.mark.parametrize(
    "fields",
    [
        {
            "method": "GET",
            "route": "v1/users/me",
            "status": 200,
            "duration_ms": 0.71,
            "request_id": "0f" * 16,
            "user_id": "6b0d4552bbe0c54887749adb",
        },
        {
            "method": 'G"E\\T\n',
            "route": "v1/users/{user_id:regex(^[0-9a-f]{{24}}$)}",
            "status": 503,
            "duration_ms": 12345.0,
            "request_id": "",
            "user_id": "ünï\u2028😀",
        },
        {
            "method": "OPTIONS",
            "route": "v1/uploads",
            "status": 204,
            "duration_ms": 1e-05,
            "request_id": "a:b.c-d_e",
            "user_id": None,
        },
    ],
)
def test_access_line_is_json_dumps_of_its_fields(fields: dict[str, object]) -> None:
    line = access_line(**fields)  # type: ignore[arg-type]
    assert line == json.dumps({"event": "request", **fields})
    assert json.loads(line) == {"event": "request", **fields}
