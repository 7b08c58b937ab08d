"""Stored records have a shape: mypy rejects a misspelt field of a user or an upload."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPECHECK = ROOT / "tests" / "typecheck"
WRONG = TYPECHECK / "wrong_record_field.py"
RIGHT = TYPECHECK / "right_record_field.py"


def test_mypy_rejects_misspelt_record_fields_and_accepts_them_spelt_right() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(WRONG), str(RIGHT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    messages = sorted(re.sub(r"^.*?: error: ", "", line) for line in errors)
    assert messages == [
        'TypedDict "MfaState" has no key "enabeld"  [typeddict-item]',
        'TypedDict "UploadRecord" has no key "owner"  [typeddict-item]',
        'TypedDict "UserRecord" has no key "pasword_hash"  [typeddict-item]',
    ], result.stdout
    # Every error is in the misspelt file: its twin, spelt right, type-checks.
    assert {Path(line.split(":", 1)[0]).name for line in errors} == {WRONG.name}, result.stdout
