"""The library worker's own virtualenv: Python 3.13, the app's requirements and the worker.

Built once under ``.venv-worker/<key>/`` (git-ignored) where the key hashes the
requirement files and the interpreter, so a change to either builds a fresh one and a
repeated run reuses it. A virtualenv is only used once its ``.complete`` stamp exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKER_REQUIREMENTS = HERE / "worker-requirements.txt"
CACHE = ROOT / ".venv-worker"
WORKER_PYTHON = (3, 13)
INSTALL_TIMEOUT_SECONDS = 900


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        answer = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)", answer.stdout.strip())
    return (int(match[1]), int(match[2])) if answer.returncode == 0 and match else None


def find_python313() -> str | None:
    """A Python 3.13 interpreter: $PYTHON313, python3.13 on PATH, then pyenv's versions."""
    candidates = [os.environ.get("PYTHON313", ""), shutil.which("python3.13") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [
        str(path) for path in sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"), reverse=True)
    ]
    for candidate in filter(None, candidates):
        if _version_of(candidate) == WORKER_PYTHON:
            return candidate
    return None


def require_python313() -> str:
    """Python 3.13's path; skip without it, but fail under CI, where it must be present."""
    python = find_python313()
    if python is not None:
        return python
    reason = "Python 3.13 not found (set PYTHON313, or put python3.13 on PATH)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the real-worker conformance test must run in CI")
    pytest.skip(reason)


def worker_virtualenv(python: str) -> Path:
    """The cached virtualenv's interpreter, built first when the key changed."""
    key = hashlib.sha256()
    for requirements in (ROOT / "requirements.txt", WORKER_REQUIREMENTS):
        key.update(requirements.read_bytes())
    key.update(str(Path(python).resolve()).encode())
    location = CACHE / key.hexdigest()[:16]
    interpreter = location / "bin" / "python"
    if (location / ".complete").exists():
        return interpreter
    shutil.rmtree(location, ignore_errors=True)  # a build that was cut short
    location.parent.mkdir(exist_ok=True)
    steps = [
        [python, "-m", "venv", str(location)],
        [
            str(interpreter),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("-r", str(ROOT / "requirements.txt"), "-r", str(WORKER_REQUIREMENTS)),
        ],
    ]
    for step in steps:
        done = subprocess.run(
            step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"building the worker's virtualenv failed: {step}\n{done.stderr[-4000:]}")
    (location / ".complete").touch()
    return interpreter
