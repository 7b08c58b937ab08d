"""A production app with unsafe settings refuses to load, as the worker would import it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAFE = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "x" * 40 + "-signing",
    "DATA_ENCRYPTION_KEY": "y" * 40 + "-encryption",
    "DATABASE_URL": "mongodb+srv://cluster.example.net/",
    "DEBUG": "false",
}


def import_app(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SAFE, **overrides}
    return subprocess.run(
        [sys.executable, "-c", "import function_app; print(len(function_app.app.get_functions()))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_safe_production_settings_load_without_the_demo_routes() -> None:
    result = import_app()
    assert result.returncode == 0, result.stderr
    development = import_app(ENVIRONMENT="development")
    assert int(development.stdout) - int(result.stdout) == 3  # the demo page's three routes


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECRET_KEY": "dev-secret-key-change-me-in-production-000000"}, "SECRET_KEY"),
        ({"DATA_ENCRYPTION_KEY": "short"}, "DATA_ENCRYPTION_KEY"),
        ({"DATABASE_URL": "mongomock://"}, "DATABASE_URL"),
        ({"DEBUG": "True"}, "DEBUG"),
    ],
)
def test_unsafe_production_settings_stop_the_app_loading(
    override: dict[str, str], named: str
) -> None:
    result = import_app(**override)
    assert result.returncode != 0
    assert "UnsafeProductionSettings" in result.stderr
    assert named in result.stderr
    for value in override.values():
        if len(value) > 8:
            assert value not in result.stderr or value == "mongomock://"
