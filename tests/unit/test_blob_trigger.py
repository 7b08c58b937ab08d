"""The upload processor's blob trigger: the host sends a blob reference, never the bytes.

These tests call the same registry functions the Python worker calls while indexing
(``azurefunctions.extensions.base``) and decoding a trigger's model binding data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from azurefunctions.extensions.base import (  # type: ignore[import-untyped]
    Datum,
    get_binding_registry,
)

from shared.triggers import BlobReference
from tests.app_functions import indexed_functions

REPO_ROOT = Path(__file__).resolve().parents[2]


def processor_function() -> func.Function:
    (function,) = [f for f in indexed_functions() if f.get_function_name() == "process_upload"]
    return function


def worker_raw_bindings(function: func.Function) -> list[dict[str, Any]]:
    """The bindings the worker reports to the host, computed as the worker does."""
    hints = typing.get_type_hints(function.get_user_function())
    input_types = {name: SimpleNamespace(pytype=hint) for name, hint in hints.items()}
    raw, _logs = get_binding_registry().get_raw_bindings(function, input_types)
    return [json.loads(binding) for binding in raw]


def model_binding_data(container: str, name: str) -> Datum:
    content = {"Connection": "UploadsStorage", "ContainerName": container, "BlobName": name}
    value = SimpleNamespace(
        version="1.0",
        source="AzureStorageBlobs",
        content_type="application/json",
        content=json.dumps(content).encode(),
    )
    return Datum(value=value, type="model_binding_data")


def test_the_host_is_asked_for_model_binding_data_instead_of_the_blob_content() -> None:
    (trigger,) = worker_raw_bindings(processor_function())

    assert trigger["type"] == "blobTrigger"
    assert trigger["properties"] == {"SupportsDeferredBinding": True}
    assert (trigger["path"], trigger["connection"]) == ("uploads/{name}", "UploadsStorage")
    assert trigger["source"] == "EventGrid"


def test_the_worker_finds_a_converter_for_the_trigger_parameter() -> None:
    registry = get_binding_registry()

    converter = registry.get("blobTrigger")

    assert registry.check_supported_type(BlobReference)
    assert converter is not None
    assert converter.check_input_type_annotation(BlobReference)
    assert not converter.check_input_type_annotation(func.InputStream)


def test_model_binding_data_becomes_a_blob_reference_without_reading_the_blob() -> None:
    converter = get_binding_registry().get("blobTrigger")
    name = "6650a1b2c3d4e5f601234567/6650a1b2c3d4e5f601234568"

    reference = converter.decode(
        model_binding_data("uploads", name), trigger_metadata={}, pytype=BlobReference
    )

    assert isinstance(reference, BlobReference)
    assert (reference.container, reference.name, reference.etag) == ("uploads", name, None)


def blob_properties_metadata(properties: object) -> dict[str, Datum]:
    """The ``Properties`` trigger metadata the host sends with a blob trigger (JSON)."""
    return {"Properties": Datum(value=json.dumps(properties), type="json")}


@pytest.mark.parametrize("etag", ['"0x8DC0FFEE1234567"', "0x8DC0FFEE1234567"])
def test_the_etag_the_host_fired_for_reaches_the_processor(etag: str) -> None:
    converter = get_binding_registry().get("blobTrigger")
    metadata = blob_properties_metadata({"ETag": etag, "ContentLength": 10, "BlobType": 0})

    reference = converter.decode(
        model_binding_data("uploads", "o/u"), trigger_metadata=metadata, pytype=BlobReference
    )

    assert reference.etag == etag


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        blob_properties_metadata({"ContentLength": 10}),
        blob_properties_metadata({"ETag": {}}),  # a serialiser that lost the value
        blob_properties_metadata({"ETag": '""'}),
        blob_properties_metadata(["not", "an", "object"]),
        {"Properties": Datum(value="{not json", type="json")},
        {"Properties": Datum(value="ETag", type="string")},
    ],
    ids=["none", "no-etag", "etag-object", "empty-etag", "list", "bad-json", "not-json"],
)
def test_without_a_readable_etag_the_processor_reads_the_current_version(
    metadata: dict[str, Datum],
) -> None:
    converter = get_binding_registry().get("blobTrigger")

    reference = converter.decode(
        model_binding_data("uploads", "o/u"), trigger_metadata=metadata, pytype=BlobReference
    )

    assert (reference.name, reference.etag) == ("o/u", None)


def test_blob_content_pushed_by_the_host_is_refused_rather_than_buffered() -> None:
    converter = get_binding_registry().get("blobTrigger")

    with pytest.raises(ValueError, match="model binding data"):
        converter.decode(
            Datum(value=b"whole file", type="bytes"), trigger_metadata={}, pytype=BlobReference
        )


def index_in_fresh_interpreter(**env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, sys, function_app\n"
        "[f] = [f for f in function_app.app.get_functions()"
        " if f.get_function_name() == 'process_upload']\n"
        "print(json.dumps({'binding': json.loads(f.get_raw_bindings()[0]),"
        " 'heavy': sorted(m for m in ('azure.storage.blob', 'azure.identity', 'PIL', 'pypdf')"
        " if m in sys.modules)}))\n"
    )
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_container_and_trigger_source_come_from_the_app_settings() -> None:
    result = index_in_fresh_interpreter(
        UPLOADS_CONTAINER="team-uploads", UPLOADS_TRIGGER_SOURCE="LogsAndContainerScan"
    )

    assert result.returncode == 0, result.stderr
    binding = json.loads(result.stdout.splitlines()[-1])["binding"]
    assert binding["path"] == "team-uploads/{name}"
    assert binding["source"] == "LogsAndContainerScan"


def test_an_unknown_trigger_source_stops_the_app_with_a_clear_message() -> None:
    result = index_in_fresh_interpreter(UPLOADS_TRIGGER_SOURCE="Polling")

    assert result.returncode != 0
    assert "UPLOADS_TRIGGER_SOURCE must be one of: EventGrid, LogsAndContainerScan" in result.stderr


def test_indexing_the_processor_loads_no_storage_sdk_or_media_library() -> None:
    result = index_in_fresh_interpreter()

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["heavy"] == []
