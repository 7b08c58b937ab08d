"""Starts the app's trigger runners and keeps them running until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from devhost.azurite import AzuriteError, AzuriteProcess
from devhost.blob_runner import BlobTriggerRunner
from devhost.http_runner import HttpTriggerRunner
from devhost.indexing import AppLoadError, describe_exception, load_functions
from devhost.local_services import (
    bootstrap_app_data,
    load_embedded_database,
    save_embedded_database,
    start_local_storage,
)
from devhost.settings import (
    EXAMPLE_SUFFIX,
    LocalSettings,
    SettingsFileError,
    load_local_settings,
    read_route_prefix,
)
from devhost.timer_runner import TimerTriggerRunner
from devhost.triggers import (
    HostOptions,
    HostStartupError,
    RunnerFactory,
    TriggerRunner,
    build_runners,
)

# Trigger types the local host serves.
TRIGGER_RUNNERS: dict[str, RunnerFactory] = {
    "httpTrigger": HttpTriggerRunner,
    "blobTrigger": BlobTriggerRunner,
    "timerTrigger": TimerTriggerRunner,
}
_SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Signals this close to the first are one request delivered twice (see _shutdown_on_signals).
SAME_REQUEST_SECONDS = 1.0


@dataclass(frozen=True)
class HostConfig:
    """Command-line choices."""

    host: str
    port: int
    settings: Path
    app: str
    host_json: Path = Path("host.json")
    azurite: bool = False
    azurite_location: Path = Path(".azurite")
    azurite_port: int = 10000
    db_dir: Path | None = None  # where the embedded database is kept across restarts
    fresh_db: bool = False


class _ShutdownRequested(BaseException):
    """Raised by the signal handler; a BaseException so that no `except Exception` eats it."""


def run(config: HostConfig) -> int:
    """Serve the app until a shutdown signal; the process exit code."""
    with _shutdown_on_signals():
        try:
            return _serve(config)
        except _ShutdownRequested as request:
            print(f"Received {request}; stopped before serving.", flush=True)
            return 0


@dataclass
class _Prepared:
    local_settings: LocalSettings
    options: HostOptions
    runners: list[TriggerRunner]
    azurite: AzuriteProcess | None
    notes: list[str]


def _prepare(config: HostConfig) -> _Prepared:
    """Settings, storage, app import and indexing, data bootstrap: all before serving."""
    local_settings = load_local_settings(config.settings, os.environ)
    _configure_logging()
    options = HostOptions(config.host, config.port, read_route_prefix(config.host_json))
    azurite = None
    notes: list[str] = []
    try:
        if config.azurite:
            azurite = start_local_storage(
                app_port=config.port, location=config.azurite_location, port=config.azurite_port
            )
            notes.append(_describe_storage(azurite))
        runners = build_runners(load_functions(config.app), options, TRIGGER_RUNNERS)
        try:
            notes += _load_local_data(config)
            notes += bootstrap_app_data(kept_in=config.db_dir)
        except Exception as exc:  # the app's own checks: settings, a weak admin password...
            raise HostStartupError(f"bootstrap failed: {describe_exception(exc)}") from exc
    except BaseException:
        if azurite is not None:
            azurite.stop()
        raise
    return _Prepared(local_settings, options, runners, azurite, notes)


def _serve(config: HostConfig) -> int:
    try:
        prepared = _prepare(config)
    except (SettingsFileError, AppLoadError, HostStartupError, AzuriteError) as exc:
        return _refuse(exc)
    runners, azurite = prepared.runners, prepared.azurite
    started: list[TriggerRunner] = []
    try:
        for runner in runners:
            runner.start()
            started.append(runner)
        _print_banner(config, prepared.options, prepared.local_settings, runners, prepared.notes)
        while True:
            time.sleep(3600)
    except HostStartupError as exc:
        return _refuse(exc)
    except _ShutdownRequested as request:
        print(f"Received {request}; stopping.", flush=True)
        return 0
    finally:
        for runner in reversed(started):
            runner.stop()
        _save_local_data(config)
        _stop_local_storage(azurite)
        print("Local host stopped.", flush=True)


def _stop_local_storage(azurite: AzuriteProcess | None) -> None:
    """Stop the Azurite we started (bounded: SIGTERM must end the host within 2 s)."""
    if azurite is None:
        return
    clients = sys.modules.get("shared.services.storage.clients")
    if clients is not None:  # the app's pooled connections would only delay Azurite
        clients.reset_storage_clients()
    azurite.stop()


def _load_local_data(config: HostConfig) -> list[str]:
    """Load the embedded database kept in ``--db-dir``; banner lines."""
    if config.db_dir is None:
        return []
    line = load_embedded_database(config.db_dir, fresh=config.fresh_db)
    return [line] if line else []


def _save_local_data(config: HostConfig) -> None:
    """Keep the embedded database in ``--db-dir`` for the next start (after runners stop)."""
    if config.db_dir is None:
        return
    try:
        line = save_embedded_database(config.db_dir)
    except Exception as exc:  # a failed save must not hide why the host stopped
        print(f"Local data NOT saved: {describe_exception(exc)}", file=sys.stderr, flush=True)
        return
    if line:
        print(line, flush=True)


@contextmanager
def _shutdown_on_signals() -> Iterator[None]:
    requested_at: list[float] = []

    def request_shutdown(signum: int, _frame: FrameType | None) -> None:
        if requested_at:
            # The same request arriving twice: `kill -TERM -<group>` reaches us, and GNU make
            # relays it to its child at once. Only a later signal force-quits a stuck shutdown
            # (Azurite and unsaved data are then left behind, as the user asked).
            if time.monotonic() - requested_at[0] < SAME_REQUEST_SECONDS:
                return
            for sig in _SHUTDOWN_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        requested_at.append(time.monotonic())
        raise _ShutdownRequested(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_shutdown) for sig in _SHUTDOWN_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _describe_storage(azurite: AzuriteProcess) -> str:
    how = " (already running for this data folder, reused)" if azurite.reused else ""
    moved = f" ({azurite.note})" if azurite.note else ""
    where = f"127.0.0.1:{azurite.port}"
    return f"Storage: Azurite on {where}{moved}{how}, data in {azurite.location}"


def _refuse(error: Exception) -> int:
    print(f"Local host cannot start: {error}", file=sys.stderr, flush=True)
    return 1


def _configure_logging() -> None:
    level = logging.getLevelNamesMapping().get(os.environ.get("LOG_LEVEL", "").upper())
    logging.basicConfig(
        level=level or logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The Azure SDK logs every HTTP exchange at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)


def _print_banner(
    config: HostConfig,
    options: HostOptions,
    local_settings: LocalSettings,
    runners: list[TriggerRunner],
    notes: list[str],
) -> None:
    lines = [
        "Runtime Traitors local host (a development tool, not a production server)",
        f"Settings: {_describe_settings(config.settings, local_settings)}",
        f"App: {config.app}, route prefix {options.route_prefix!r}",
        *notes,
        "",
        "Functions:",
        "",
        *(f"        {line}" for runner in runners for line in runner.describe()),
        "",
        "Ready; press Ctrl+C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _describe_settings(requested: Path, local_settings: LocalSettings) -> str:
    if local_settings.source is None:
        return f"no {requested} or {requested}{EXAMPLE_SUFFIX}; the environment only"
    kept = local_settings.kept_from_environment
    overridden = f"; the environment overrides {', '.join(kept)}" if kept else ""
    count = len(local_settings.applied)
    return f"{local_settings.source} ({count} value{'' if count == 1 else 's'} applied{overridden})"
