"""Fires blob-triggered functions for each new blob version, as the Functions host does.

The runner polls the trigger's container (the connection named by the binding, e.g.
``UploadsStorage``), and for every blob version (name + ETag) without a receipt it
invokes the function on a worker thread, up to five tries with growing pauses. A
receipt blob in ``azure-webjobs-hosts`` (like the real host's ``blobreceipts/``) marks
each version done, so a restart does not fire again for blobs already handled; a
version that failed every try gets a receipt too and is logged as poison.

Stopping is quick (the local host must be gone within two seconds of SIGTERM): an
invocation still running after a short grace period is abandoned on its daemon
thread; it wrote no receipt, so the next start delivers that version again, as the
real host does after a crash (the processor is idempotent per blob version).
"""

from __future__ import annotations

import inspect
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.functions as func

from devhost.indexing import function_name, trigger_binding
from devhost.invocation import FunctionInvoker
from devhost.triggers import HostOptions

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

logger = logging.getLogger(__name__)

RECEIPTS_CONTAINER = "azure-webjobs-hosts"
MAX_TRIES = 5
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
WORKERS = 2
# How long stop() lets running invocations finish before abandoning them.
STOP_GRACE_SECONDS = 0.5


def _seconds_setting(name: str, default: float) -> float:
    try:
        return max(0.05, float(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass(frozen=True)
class BlobTriggerFunction:
    """One blob-triggered function and where it listens."""

    name: str
    container: str
    name_prefix: str
    connection: str
    argument: str
    user_function: Callable[..., Any]

    @classmethod
    def from_function(cls, function: func.Function) -> BlobTriggerFunction:
        binding = trigger_binding(function)
        container, _, pattern = binding["path"].partition("/")
        return cls(
            name=function_name(function),
            container=container,
            name_prefix=pattern.split("{", 1)[0],
            connection=binding.get("connection") or "AzureWebJobsStorage",
            argument=binding["name"],
            user_function=function.get_user_function(),
        )


class BlobTriggerRunner:
    """Watches each blob trigger's container and invokes its function per new version."""

    def __init__(self, functions: Sequence[func.Function], options: HostOptions) -> None:
        self.triggers = [BlobTriggerFunction.from_function(f) for f in functions]
        self.poll_seconds = _seconds_setting("LOCAL_HOST_BLOB_POLL_SECONDS", 1.0)
        self.retry_seconds = _seconds_setting("LOCAL_HOST_BLOB_RETRY_SECONDS", 2.0)
        self.invoker = FunctionInvoker()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []
        self._jobs: queue.Queue[tuple[BlobTriggerFunction, BlobServiceClient, str, str]] = (
            queue.Queue()
        )
        self._in_flight: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def describe(self) -> list[str]:
        """`name: blobTrigger container/prefix{name} (connection)` per function."""
        return [
            f"{t.name}: blobTrigger {t.container}/{t.name_prefix}{{name}} "
            f"(connection {t.connection}{'' if self._connection(t) else ', NOT SET: not watched'})"
            for t in self.triggers
        ]

    def start(self) -> None:
        """One polling thread per function whose connection is configured."""
        for number in range(WORKERS):
            # Daemon threads: an invocation still running at exit never holds the process.
            worker = threading.Thread(
                target=self._work, name=f"devhost-blob-worker-{number}", daemon=True
            )
            worker.start()
            self._workers.append(worker)
        for trigger in self.triggers:
            connection = self._connection(trigger)
            if not connection:
                logger.warning(
                    "%s is not watched: set %s to a storage connection string",
                    trigger.name,
                    trigger.connection,
                )
                continue
            thread = threading.Thread(
                target=self._watch,
                args=(trigger, connection),
                name=f"devhost-blob-{trigger.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling; give running invocations a moment, then abandon them."""
        self._stop.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in [*self._threads, *self._workers]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.invoker.close()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            if not self._stop.is_set():
                self._invoke(*job)

    @staticmethod
    def _connection(trigger: BlobTriggerFunction) -> str:
        return os.environ.get(trigger.connection, "").strip()

    def _watch(self, trigger: BlobTriggerFunction, connection: str) -> None:
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient.from_connection_string(connection) as service:
            # Closed on the way out: an open keep-alive connection would hold up
            # Azurite's own shutdown.
            self._poll(trigger, service)

    def _poll(self, trigger: BlobTriggerFunction, service: BlobServiceClient) -> None:
        receipts = service.get_container_client(RECEIPTS_CONTAINER)
        container = service.get_container_client(trigger.container)
        reported = False
        while not self._stop.is_set():
            try:
                if not receipts.exists():
                    receipts.create_container()
                for blob in container.list_blobs(name_starts_with=trigger.name_prefix or None):
                    self._consider(trigger, service, blob.name, str(blob.etag))
                reported = False
            except Exception as exc:  # storage not up yet, container missing...: keep polling
                if not reported:
                    logger.warning(
                        "%s: cannot list %s yet (%s)", trigger.name, trigger.container, exc
                    )
                    reported = True
            self._stop.wait(self.poll_seconds)

    def _consider(
        self, trigger: BlobTriggerFunction, service: BlobServiceClient, name: str, etag: str
    ) -> None:
        key = (trigger.name, name, etag)
        with self._lock:
            if key in self._in_flight:
                return
        receipt = service.get_blob_client(RECEIPTS_CONTAINER, _receipt_name(trigger, name, etag))
        if receipt.exists():
            return
        with self._lock:
            self._in_flight.add(key)
        self._jobs.put((trigger, service, name, etag))

    def _invoke(
        self, trigger: BlobTriggerFunction, service: BlobServiceClient, name: str, etag: str
    ) -> None:
        try:
            # Settled (done, or poison after every try): receipted even while stopping, so a
            # restart does not fire again for a version whose invocation already finished.
            # Stopped between tries: no receipt, the next start tries again.
            if self._run_with_retries(trigger, service, name, etag):
                receipt = _receipt_name(trigger, name, etag)
                service.get_blob_client(RECEIPTS_CONTAINER, receipt).upload_blob(
                    b"", overwrite=True
                )
        finally:
            with self._lock:
                self._in_flight.discard((trigger.name, name, etag))

    def _run_with_retries(
        self, trigger: BlobTriggerFunction, service: BlobServiceClient, name: str, etag: str
    ) -> bool:
        """Invoke with up to ``MAX_TRIES`` tries; False when stopped before the version settled."""
        where = f"{trigger.container}/{name}"
        for attempt in range(1, MAX_TRIES + 1):
            try:
                argument = _argument(trigger, service, name, etag)
                self.invoker.call(trigger.user_function, {trigger.argument: argument})
            except Exception:
                logger.exception(
                    "%s failed on %s (try %d of %d)", trigger.name, where, attempt, MAX_TRIES
                )
            else:
                logger.info("%s processed %s (try %d)", trigger.name, where, attempt)
                return True
            if attempt < MAX_TRIES and self._stop.wait(self.retry_seconds * attempt):
                return False
        logger.error("%s: %s is poison after %d tries", trigger.name, where, MAX_TRIES)
        return True


def _receipt_name(trigger: BlobTriggerFunction, name: str, etag: str) -> str:
    version = etag.strip('"')
    return f"blobreceipts/devhost/{trigger.name}/{version}/{trigger.container}/{name}"


def _argument(
    trigger: BlobTriggerFunction, service: BlobServiceClient, name: str, etag: str
) -> Any:
    """What the function's parameter asks for: a reference (streaming) or the bytes."""
    from shared.triggers import BlobReference

    annotation = inspect.signature(trigger.user_function).parameters[trigger.argument].annotation
    if isinstance(annotation, type) and issubclass(annotation, BlobReference):
        return annotation(container=trigger.container, name=name, etag=etag)
    # Plain InputStream parameters get the content, as the host delivers it.
    data = service.get_blob_client(trigger.container, name).download_blob().readall()
    return func.blob.InputStream(data=data, name=f"{trigger.container}/{name}", length=len(data))
