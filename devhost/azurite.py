"""Start the Azurite blob emulator from node_modules, ready for the app.

``python -m devhost.azurite --port 10000 --location .azurite`` runs it in the
foreground; ``start_azurite()`` does the same for the local host and the tests.
Once Azurite answers, the blob service gets CORS rules for the dev origins and the
app's containers exist. An Azurite already listening on the port is reused.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
AZURITE_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
DEFAULT_LOCATION = ".azurite"
# The emulator's well-known development account, published in Azurite's README and
# identical on every machine: not a secret.
AZURITE_ACCOUNT_NAME = "devstoreaccount1"
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEV_ORIGINS = ("http://127.0.0.1:7071", "http://localhost:7071")
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
PROBE_INTERVAL_SECONDS = 0.1
LOG_TAIL_CHARS = 2000


class AzuriteError(RuntimeError):
    """Azurite could not be started, or the port is held by something else."""


@dataclass
class AzuriteProcess:
    """A running Azurite: ours to stop, or one found already running."""

    port: int
    location: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def connection_string(self) -> str:
        """Connection string for the dev account on this port."""
        return azurite_connection_string(self.port)

    @property
    def reused(self) -> bool:
        """True when another process owns this Azurite (stop() leaves it running)."""
        return self.process is None

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop Azurite if we started it: SIGTERM, then SIGKILL after ``timeout``."""
        if self.process is None or self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> AzuriteProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def azurite_connection_string(port: int, host: str = AZURITE_HOST) -> str:
    """Connection string for Azurite's development account at ``host:port``."""
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT_NAME};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT_NAME};"
    )


def azurite_binary() -> Path | None:
    """The azurite-blob launcher from ``npm ci``, else one on PATH, else None."""
    if AZURITE_BIN.exists():
        return AZURITE_BIN
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def start_azurite(
    port: int = DEFAULT_PORT,
    location: str | Path = DEFAULT_LOCATION,
    *,
    origins: list[str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> AzuriteProcess:
    """Start (or reuse) Azurite on loopback, then apply CORS rules and create containers."""
    workspace = Path(location).resolve()
    probe = _probe(port)
    if probe == "azurite":
        azurite = AzuriteProcess(port=port, location=workspace)
    elif probe == "other":
        raise AzuriteError(f"port {port} is in use by something that is not Azurite")
    else:
        azurite = _launch(port, workspace, timeout)
    try:
        _provision(azurite.connection_string, origins if origins is not None else dev_origins())
    except BaseException:
        azurite.stop()
        raise
    return azurite


def dev_origins() -> list[str]:
    """Origins a local browser uploads from: the local host, FRONTEND_URL, CORS_ORIGINS."""
    from shared.config import get_settings  # read on use: importing pydantic-settings is slow

    settings = get_settings()
    ordered = [*DEV_ORIGINS, settings.FRONTEND_URL.rstrip("/"), *settings.CORS_ORIGINS]
    return list(dict.fromkeys(origin for origin in ordered if origin))


def _launch(port: int, workspace: Path, timeout: float) -> AzuriteProcess:
    binary = azurite_binary()
    if binary is None:
        raise AzuriteError("azurite-blob not found: run `npm ci` in the repository root")
    workspace.mkdir(parents=True, exist_ok=True)
    log_path = workspace / "azurite.log"
    command = [
        str(binary),
        "--blobHost",
        AZURITE_HOST,
        "--blobPort",
        str(port),
        "--location",
        str(workspace),
        # Azurite lags the SDK's service version; the SDK's newer header is harmless.
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
        "--disableTelemetry",
    ]
    with log_path.open("ab") as log:
        # Own session: a Ctrl-C in the developer's terminal reaches us, and we stop it.
        process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    azurite = AzuriteProcess(port=port, location=workspace, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while _probe(port) != "azurite":
        if process.poll() is not None:
            raise AzuriteError(f"Azurite exited with {process.returncode}: {_log_tail(log_path)}")
        if time.monotonic() > deadline:
            azurite.stop()
            raise AzuriteError(f"Azurite did not answer within {timeout:.0f}s")
        time.sleep(PROBE_INTERVAL_SECONDS)
    return azurite


def _probe(port: int) -> str:
    """'azurite' if Azurite answers on the port, 'other' if something else, else 'none'."""
    url = f"http://{AZURITE_HOST}:{port}/{AZURITE_ACCOUNT_NAME}?comp=list"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            server = response.headers.get("Server", "")
    except urllib.error.HTTPError as exc:
        # An anonymous list is refused with 403: that refusal is the answer we want.
        server = exc.headers.get("Server", "")
    except (urllib.error.URLError, OSError):
        return "none"
    return "azurite" if server.startswith("Azurite-Blob") else "other"


def _provision(connection_string: str, origins: list[str]) -> None:
    from shared.services import storage  # the azure SDK loads on use only

    storage.configure_cors(origins, connection_string=connection_string)
    storage.ensure_containers(connection_string=connection_string)


def _log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:].strip()
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    """Run Azurite in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--location", default=DEFAULT_LOCATION)
    parser.add_argument(
        "--origin",
        action="append",
        dest="origins",
        help="browser origin allowed by CORS (repeatable; default: the dev origins)",
    )
    args = parser.parse_args(argv)
    try:
        azurite = start_azurite(args.port, args.location, origins=args.origins)
    except AzuriteError as exc:
        print(f"azurite: {exc}", file=sys.stderr)
        return 1
    print(f"AZURE_STORAGE_CONNECTION_STRING={azurite.connection_string}")
    process = azurite.process
    if process is None:
        print(f"azurite: already running on port {args.port}; containers and CORS applied")
        return 0
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    print(f"azurite: listening on {AZURITE_HOST}:{args.port}, data in {azurite.location}")
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        azurite.stop()
    return 0


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
