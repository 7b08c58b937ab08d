"""The azd template, checked without an Azure subscription.

Bicep cannot be compiled here, so every file is parsed with pycep-parser, the whole
of infra/ is scanned with checkov (every skipped check carries a written reason), and
the Function App's settings are checked against what the production configuration
requires: the app would start with them.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from blueprints.upload_processor import UPLOADS_CONNECTION
from shared.config import Environment, Settings, TriggerSource, load_settings
from shared.production_policy import production_problems, refuse_unsafe_environment

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
CHECKOV_MISSING = "checkov is not installed: run `make .venv-infra/.deps-installed`"
KEY_VAULT_REFERENCE = re.compile(
    r"@Microsoft\.KeyVault\(SecretUri=\$\{keyVaultUri\}secrets/([a-z-]+)/\)"
)
# Settings read by the Functions host, not by shared.config.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    f"{UPLOADS_CONNECTION}__blobServiceUri",
    f"{UPLOADS_CONNECTION}__queueServiceUri",
}


@cache
def parsed(relative: str) -> dict[str, Any]:
    result: dict[str, Any] = BicepParser().parse(file_path=INFRA / relative)
    return result


def app_settings() -> dict[str, Any]:
    settings: dict[str, Any] = parsed("app/function.bicep")["resources"]["appSettings"]["config"][
        "properties"
    ]
    return settings


def is_reference(value: Any, relative: str) -> bool:
    """pycep gives parameter references and string literals alike as str: tell them apart."""
    document = parsed(relative)
    return isinstance(value, str) and (
        value in document["parameters"] or value in document["variables"]
    )


def production_settings_required() -> set[str]:
    """The settings production_policy judges, plus ENVIRONMENT that turns it on."""
    parameters = inspect.signature(production_problems).parameters
    return {name.upper() for name in parameters} | {"ENVIRONMENT"}


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda path: str(path.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    document = BicepParser().parse(file_path=path)
    assert document["resources"] or document.get("modules"), f"{path} declares nothing"


def test_the_template_sets_every_setting_production_requires() -> None:
    settings = app_settings()
    required = production_settings_required() | {
        "AZURE_STORAGE_ACCOUNT_URL",  # production storage is reached with the identity
        "CORS_ORIGINS",
        "FRONTEND_URL",
        "UPLOADS_TRIGGER_SOURCE",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        *HOST_SETTINGS,
    }
    assert required <= settings.keys(), f"missing: {sorted(required - settings.keys())}"
    unknown = settings.keys() - Settings.model_fields.keys() - HOST_SETTINGS
    assert not unknown, f"settings the app does not read (typos?): {sorted(unknown)}"
    assert settings["ENVIRONMENT"] == Environment.PRODUCTION.value
    assert settings["DEBUG"] == "false"
    assert settings["UPLOADS_TRIGGER_SOURCE"] == TriggerSource.EVENT_GRID.value
    assert "AZURE_STORAGE_CONNECTION_STRING" not in settings  # no account key anywhere


def test_secrets_are_key_vault_references_to_secrets_the_vault_holds() -> None:
    settings = app_settings()
    vault_secrets = {
        resource["config"]["name"]
        for resource in parsed("core/keyvault.bicep")["resources"].values()
        if resource["type"] == "Microsoft.KeyVault/vaults/secrets"
    }
    referenced = {}
    for name in ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "DATABASE_URL"):
        match = KEY_VAULT_REFERENCE.fullmatch(settings[name])
        assert match, f"{name} must be a Key Vault reference, not a value"
        referenced[name] = match[1]
    assert set(referenced.values()) == vault_secrets


def test_the_app_starts_in_production_with_the_templates_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Literal values as written; references get values like those azd would pass."""
    stand_ins = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_ENCRYPTION_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": "mongodb+srv://app:pw@cluster.example.mongodb.net/",
        "CORS_ORIGINS": "https://app.example,https://admin.example",
    }
    environment: dict[str, str] = {}
    for name, value in app_settings().items():
        if name in stand_ins:
            environment[name] = stand_ins[name]
        elif isinstance(value, str) and not is_reference(value, "app/function.bicep"):
            environment[name] = value
    refuse_unsafe_environment(environment)  # the import-time guard of function_app
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.is_production
    assert settings.CORS_ORIGINS == ["https://app.example", "https://admin.example"]


def test_one_cors_list_feeds_the_app_the_function_app_and_the_storage_account() -> None:
    main = parsed("main.bicep")
    assert main["variables"]["corsOriginList"]["value"] == {
        "function": {
            "type": "split",
            "parameters": {"input_string": "corsOrigins", "delimiter": ","},
        }
    }
    assert main["modules"]["functionApp"]["config"]["params"]["corsOrigins"] == "corsOriginList"
    assert main["modules"]["storage"]["config"]["params"]["corsOrigins"] == "corsOriginList"
    site = parsed("app/function.bicep")["resources"]["functionApp"]["config"]["properties"]
    assert site["siteConfig"]["cors"]["allowedOrigins"] == "corsOrigins"
    assert app_settings()["CORS_ORIGINS"]["function"]["parameters"]["input_array"] == "corsOrigins"
    storage = parsed("core/storage.bicep")["resources"]["blobService"]["config"]["properties"]
    assert storage["cors"]["corsRules"][0]["allowedOrigins"] == "corsOrigins"


def test_containers_and_runtime_match_the_app() -> None:
    containers = parsed("main.bicep")["variables"]["containers"]["value"]
    defaults = Settings.model_fields
    for key in ("uploads", "thumbnails", "quarantine"):
        assert containers[key] == defaults[f"{key.upper()}_CONTAINER"].default
    function = parsed("app/function.bicep")
    runtime = function["resources"]["functionApp"]["config"]["properties"]["functionAppConfig"]
    assert runtime["runtime"] == {"name": "python", "version": "pythonVersion"}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'target-version = "py311"' in pyproject
    assert function["parameters"]["pythonVersion"]["default"] == "3.11"


def test_the_event_grid_subscription_feeds_the_blob_trigger() -> None:
    subscription = parsed("app/eventgrid-subscription.bicep")
    properties = subscription["resources"]["subscription"]["config"]["properties"]
    url = properties["destination"]["properties"]["endpointUrl"]
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}" in url
    assert "code=${blobsExtensionKey}" in url
    assert subscription["parameters"]["functionName"]["default"] == "process_upload"
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    hook = INFRA / "hooks" / "postdeploy.sh"
    assert hook.stat().st_mode & stat.S_IXUSR, "the azd hook must be executable"
    assert "app/eventgrid-subscription.bicep" in hook.read_text()
    assert "./infra/hooks/postdeploy.sh" in (ROOT / "azure.yaml").read_text()


def test_every_required_parameter_comes_from_the_azd_environment() -> None:
    parameters = parsed("main.bicep")["parameters"]
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    required = {name for name, spec in parameters.items() if spec.get("default") is None}
    assert required <= mapped.keys(), f"not mapped: {sorted(required - mapped.keys())}"


def checkov_binary() -> str | None:
    local = ROOT / ".venv-infra" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason() -> None:
    binary = checkov_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHECKOV_MISSING} (required when CI is set)")
        pytest.skip(CHECKOV_MISSING)
    completed = subprocess.run(
        [binary, "-d", str(INFRA), "--framework", "bicep", "--output", "json", "--compact"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(completed.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 10, f"{skipped['check_id']} in {skipped['file_path']} has no reason"
