"""Generate clients from the OpenAPI document with third-party generators at their defaults.

The output depends only on the document (less `servers`, which neither generator reads),
the generators' versions and flow.mts, so it is cached under pytest's cache keyed by their
hash: a run after an API change regenerates, other runs reuse it. Each build happens in a
scratch directory that is renamed into place only when it succeeded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
NODE_BIN = ROOT / "node_modules" / ".bin"
FLOW = Path(__file__).with_name("flow.mts")
PYTHON_PACKAGE = "traitors_client"
# No ruff post-hook: formatting the generated code adds time and changes nothing it does.
PYTHON_GENERATOR_CONFIG = {"post_hooks": [], "package_name_override": PYTHON_PACKAGE}
TOOL_TIMEOUT_SECONDS = 180


def node_package_version(name: str) -> str:
    """The installed version of a package in node_modules ("missing" when absent)."""
    manifest = ROOT / "node_modules" / name / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else "missing"


def require_node_tools() -> None:
    """Skip when the npm tools are not installed; fail instead under CI."""
    missing = [tool for tool in ("openapi-typescript", "tsc") if not (NODE_BIN / tool).exists()]
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        reason = f"generated-client test needs {', '.join(missing)}: run `npm ci`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)


def _key(document: dict[str, Any], *parts: str) -> str:
    digest = hashlib.sha256()
    without_servers = {name: value for name, value in document.items() if name != "servers"}
    digest.update(json.dumps(without_servers, sort_keys=True).encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:16]


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}) in {cwd}:\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def _build_once(target: Path, cache: Path, build: Any) -> Path:
    """Run ``build(scratch)`` unless ``target`` exists; move the result into place."""
    if target.exists():
        return target
    kind = target.name.rsplit("-", 1)[0]
    for stale in cache.glob(f"{kind}-*"):  # builds for documents that no longer exist
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=cache))
    try:
        build(scratch)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def typescript_program(document: dict[str, Any], cache: Path) -> Path:
    """flow.mts compiled by `tsc --strict` against openapi-typescript's types; the .mjs path.

    The build lives inside the repository (pytest's cache), so Node and tsc find
    openapi-fetch and the type packages in the root node_modules.
    """
    versions = [node_package_version(n) for n in ("openapi-typescript", "typescript")]
    key = _key(document, FLOW.read_text(), *versions)

    def build(scratch: Path) -> None:
        (scratch / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
        _run([str(NODE_BIN / "openapi-typescript"), "openapi.json", "-o", "schema.d.ts"], scratch)
        shutil.copy(FLOW, scratch / FLOW.name)
        tsc = [str(NODE_BIN / "tsc"), "--strict", "--noEmitOnError", "--target", "es2022"]
        _run([*tsc, "--module", "nodenext", "--types", "node", FLOW.name], scratch)

    return _build_once(cache / f"typescript-{key}", cache, build) / "flow.mjs"


def python_client(document: dict[str, Any], cache: Path) -> ModuleType:
    """The package openapi-python-client generates, imported."""
    from openapi_python_client import __version__ as generator_version

    key = _key(document, generator_version)

    def build(scratch: Path) -> None:
        (scratch / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
        (scratch / "config.json").write_text(json.dumps(PYTHON_GENERATOR_CONFIG))
        generator = Path(sys.executable).with_name("openapi-python-client")
        _run(
            [
                str(generator),
                "generate",
                "--path=openapi.json",
                "--config=config.json",
                f"--output-path={PYTHON_PACKAGE}",
                "--meta=none",
            ],
            scratch,
        )

    built = _build_once(cache / f"python-{key}", cache, build)
    sys.path.insert(0, str(built))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(PYTHON_PACKAGE)
    finally:
        sys.path.remove(str(built))
