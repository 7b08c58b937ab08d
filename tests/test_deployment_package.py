"""What the deployment package holds: the app's folder less what .funcignore names.

Azure/functions-action (``respect-funcignore: true``) and Core Tools' publish walk the
folder and drop every file or folder the .funcignore rules match, with .gitignore
semantics (the ``ignore`` npm package); ``pathspec``'s GitIgnoreSpec applies the same
rules here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pathspec
import pytest

ROOT = Path(__file__).resolve().parents[1]
NEVER_SHIPPED = [
    "tests/test_indexing.py",
    "devhost/__main__.py",
    "bench/run_all.py",
    "docs/architecture.md",
    "scripts/init_db.py",
    "node_modules/azurite/package.json",
    ".venv/bin/python",
    ".venv-worker/0123456789abcdef/bin/python",
    ".azurite/__blobstorage__/blob",
    "local.settings.json",
    "local.settings.json.example",
    ".git/HEAD",
    ".git",  # a worktree's .git is a file
    ".github/workflows/deploy.yml",
    "shared/__pycache__/config.cpython-311.pyc",
    ".python_packages/lib/site-packages/pymongo/__init__.py",
    "Dockerfile",
    "docker-compose.yml",
    "requirements-dev.txt",
]
ALWAYS_SHIPPED = ["function_app.py", "host.json", "requirements.txt"]
SHIPPED_FOLDERS = ["blueprints", "shared"]


@cache
def funcignore() -> pathspec.GitIgnoreSpec:
    """The rules as the action reads them: every non-blank line of .funcignore."""
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").split("\n")
    return pathspec.GitIgnoreSpec.from_lines([line for line in lines if line.strip()])


def package_files(root: Path = ROOT) -> list[str]:
    """Every file the package would hold, relative to the app's folder, sorted."""
    spec = funcignore()
    kept: list[str] = []
    for directory, folders, files in os.walk(root):
        relative = Path(directory).relative_to(root)
        # A dropped folder goes with everything in it, as the action's rimraf does.
        folders[:] = [f for f in folders if not spec.match_file(f"{(relative / f).as_posix()}/")]
        kept += [
            (relative / name).as_posix()
            for name in files
            if not spec.match_file((relative / name).as_posix())
        ]
    return sorted(kept)


@pytest.mark.parametrize("path", NEVER_SHIPPED)
def test_development_files_stay_out_of_the_package(path: str) -> None:
    assert funcignore().match_file(path), f"{path} would be deployed"


def test_the_package_holds_the_app_and_nothing_for_development() -> None:
    files = package_files()
    for required in ALWAYS_SHIPPED:
        assert required in files
    for folder in SHIPPED_FOLDERS:
        on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*.py")}
        on_disk = {p for p in on_disk if "__pycache__" not in p}
        assert on_disk <= set(files), sorted(on_disk - set(files))
    top_level = {path.split("/", 1)[0] for path in files}
    assert top_level <= {*ALWAYS_SHIPPED, *SHIPPED_FOLDERS}, sorted(
        top_level - {*ALWAYS_SHIPPED, *SHIPPED_FOLDERS}
    )


def test_every_module_in_the_package_imports_from_the_package_alone(tmp_path: Path) -> None:
    """A copy of the package only: the app indexes and each module imports (lazy ones too)."""
    for relative in package_files():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    modules = [
        ".".join(Path(relative).with_suffix("").parts).removesuffix(".__init__")
        for relative in package_files()
        if relative.endswith(".py")
    ]
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "import function_app\n"
        "print(len(function_app.app.get_functions()))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment |= {"ENVIRONMENT": "production", "DATABASE_URL": "mongodb://db.invalid:27017/"}
    environment |= {"SECRET_KEY": "p" * 48, "DATA_ENCRYPTION_KEY": "q" * 48}
    done = subprocess.run(
        [sys.executable, "-E", "-c", script, *modules],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 0
