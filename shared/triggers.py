"""``BlobReference``: a blob-trigger parameter that carries the blob's name, never its bytes.

By default the Functions host reads a triggering blob whole and pushes its content
to the Python worker, so memory grows with the upload. A parameter annotated with an
``SdkType`` subclass makes the worker declare ``SupportsDeferredBinding`` and the host
send only *model binding data* (connection, container, blob name); the function then
streams the blob itself. Microsoft's ``azurefunctions-extensions-bindings-blob`` does
this but imports ``azure.storage.blob`` and ``azure.identity`` at load time (100 to
200 ms of cold start, measured here); this converter, built on the tiny
``azurefunctions-extensions-base``, only parses the coordinates, and the processor
reaches storage through ``shared.services.storage`` on first use.

The converter claims the ``blob``/``blobTrigger`` bindings in the worker's
deferred-binding registry, so Microsoft's blob extension must not be installed
alongside it (the registry refuses a second converter for a binding).
"""

import json
from collections.abc import Mapping
from typing import Any

from azurefunctions.extensions.base import (  # type: ignore[import-untyped]
    Datum,
    InConverter,
    SdkType,
)

MODEL_BINDING_DATA = "model_binding_data"


class BlobReference(SdkType):  # type: ignore[misc]
    """Which blob fired the trigger; ``etag`` pins the version the host fired for.

    The host reads the blob's properties to fire the trigger and passes them as the
    ``Properties`` trigger metadata; their ETag lets the processor skip a version it
    already handled without a storage call, and read the properties of a new one once.
    If the blob changed since, every read pinned to that ETag fails and the newer
    version's own event handles it. Without an ETag the processor reads the current one.
    """

    def __init__(self, *, container: str, name: str, etag: str | None = None) -> None:
        super().__init__(data={"container": container, "name": name, "etag": etag})
        self.container = container
        self.name = name
        self.etag = etag

    def get_sdk_type(self) -> "BlobReference":
        """The reference itself: opening the blob is the caller's business."""
        return self

    def __repr__(self) -> str:
        return f"BlobReference(container={self.container!r}, name={self.name!r})"


class BlobReferenceConverter(InConverter, binding="blob", trigger="blobTrigger"):  # type: ignore[misc,call-arg]
    """Turns the host's model binding data into a BlobReference."""

    @classmethod
    def check_input_type_annotation(cls, pytype: type) -> bool:
        """Only parameters annotated BlobReference take the deferred path."""
        return isinstance(pytype, type) and issubclass(pytype, BlobReference)

    @classmethod
    def has_implicit_output(cls) -> bool:
        """A trigger parameter never writes anything back."""
        return False

    @classmethod
    def decode(
        cls, data: Datum, *, trigger_metadata: Mapping[str, Any] | None, pytype: type | None
    ) -> BlobReference | None:
        """The blob's coordinates from the model binding data."""
        if data is None or data.type is None:
            return None
        if data.type != MODEL_BINDING_DATA:
            raise ValueError(f"expected model binding data for the blob trigger, got {data.type!r}")
        content = json.loads(data.value.content)
        return BlobReference(
            container=str(content["ContainerName"]),
            name=str(content["BlobName"]),
            etag=announced_etag(trigger_metadata),
        )


def announced_etag(trigger_metadata: Mapping[str, Any] | None) -> str | None:
    """The ETag in the host's ``Properties`` trigger metadata (JSON); None if unreadable."""
    properties: Any = (trigger_metadata or {}).get("Properties")  # a Datum, if sent
    if getattr(properties, "type", None) != "json":
        return None
    try:
        parsed = json.loads(properties.value)
    except (TypeError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    # .NET's BlobProperties serialises it as "ETag"; accept the other spellings in use.
    etag = next((parsed[key] for key in ("ETag", "Etag", "eTag", "etag") if key in parsed), None)
    return etag if isinstance(etag, str) and etag.strip('"') else None
