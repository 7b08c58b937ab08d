"""The route contract is checked by the type checker: a misspelt body field is an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "typecheck" / "wrong_body_field.py"


def test_mypy_rejects_a_misspelt_body_field() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(FIXTURE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"LoginRequest" has no attribute "pasword"' in result.stdout
    assert result.stdout.count("error:") == 1, result.stdout
