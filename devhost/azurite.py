"""Start the Azurite blob emulator from node_modules, ready for the app.

``python -m devhost.azurite --port 10000 --location .azurite`` runs it in the
foreground; ``start_azurite()`` does the same for the local host and the tests.
Once Azurite answers, the blob service gets CORS rules for the dev origins and the
app's containers exist.

Azurite runs through ``devhost/azurite_blob.js``, which gives create-only SAS tokens
Azure's current rights (Put Block / Put Block List), so the SDKs' block uploads work
with the very URL production hands out.

An Azurite belongs to the data folder (``--location``) it serves: one started here
carries a marker container naming that folder. An Azurite already on the port is
reused only when its marker names this folder; otherwise the port belongs to another
checkout, and Azurite starts on a free port instead (``move_if_taken``) or refuses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import socket
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
# Runs the pinned Azurite with Azure's create-permission rule for block uploads.
AZURITE_LAUNCHER = Path(__file__).resolve().with_name("azurite_blob.js")
# Names the data folder an Azurite serves (container metadata), and where it listens.
OWNER_CONTAINER = "devhost-owner"
OWNER_METADATA_KEY = "location"
STATE_FILE = "devhost-azurite.json"
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
# Azurite saves its metadata when it closes; a second is plenty on loopback, and the
# local host must be gone within two seconds of a shutdown signal.
STOP_TIMEOUT_SECONDS = 1.2
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
    note: str = ""  # why it is not on the port asked for, if it is not
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
    move_if_taken: bool = False,
) -> AzuriteProcess:
    """Start (or reuse) this data folder's Azurite on loopback, then CORS and containers.

    An Azurite serving another folder is never reused: with ``move_if_taken`` this one
    starts on a free port (``note`` says so), else AzuriteError explains the clash.
    """
    workspace = Path(location).resolve()
    azurite = _find_own(port, workspace)
    if azurite is None:
        azurite = _start_own(port, workspace, timeout, move_if_taken=move_if_taken)
    try:
        _provision(azurite.connection_string, origins if origins is not None else dev_origins())
        if not azurite.reused:
            _mark_owner(azurite)
    except BaseException:
        azurite.stop()
        raise
    return azurite


def _find_own(port: int, workspace: Path) -> AzuriteProcess | None:
    """A running Azurite that serves ``workspace``: on ``port``, or where it last ran."""
    candidates = [port]
    recorded = _recorded_port(workspace)
    if recorded is not None and recorded != port:
        candidates.append(recorded)
    for candidate in candidates:
        if _probe(candidate) == "azurite" and _owner(candidate) == _owner_tag(workspace):
            return AzuriteProcess(port=candidate, location=workspace)
    return None


def _start_own(
    port: int, workspace: Path, timeout: float, *, move_if_taken: bool
) -> AzuriteProcess:
    probe = _probe(port)
    if probe == "none":
        try:
            return _launch(port, workspace, timeout)
        except AzuriteError:
            if not move_if_taken or _probe(port) == "none":
                raise
            probe = _probe(port)  # taken meanwhile: fall through to a free port
    holder = "another data folder's Azurite" if probe == "azurite" else "something else"
    if not move_if_taken:
        raise AzuriteError(
            f"port {port} is held by {holder}; stop it, or choose another port "
            "(this checkout never shares another checkout's blobs)"
        )
    chosen = _free_port()
    azurite = _launch(chosen, workspace, timeout)
    azurite.note = f"port {port} is held by {holder}; using {chosen}"
    return azurite


def _owner_tag(workspace: Path) -> str:
    # Container metadata is ASCII: a digest of the folder's path stands for it.
    return hashlib.sha256(str(workspace).encode()).hexdigest()


def _owner(port: int) -> str | None:
    """The data folder tag of the Azurite on ``port`` (None: not one of ours)."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(
        azurite_connection_string(port), retry_total=0, connection_timeout=2
    )
    try:
        properties = client.get_container_client(OWNER_CONTAINER).get_container_properties()
    except AzureError:
        return None
    finally:
        client.close()
    tag = properties.metadata.get(OWNER_METADATA_KEY)
    return str(tag) if tag else None


def _mark_owner(azurite: AzuriteProcess) -> None:
    """Name the data folder in the Azurite we started, and remember its port there."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    metadata = {OWNER_METADATA_KEY: _owner_tag(azurite.location)}
    with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
        container = client.get_container_client(OWNER_CONTAINER)
        try:
            container.create_container(metadata=metadata)
        except ResourceExistsError:
            container.set_container_metadata(metadata)
    state = {"port": azurite.port}
    (azurite.location / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")


def _recorded_port(workspace: Path) -> int | None:
    try:
        port = json.loads((workspace / STATE_FILE).read_text(encoding="utf-8"))["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((AZURITE_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def dev_origins() -> list[str]:
    """Origins a local browser uploads from: the local host, FRONTEND_URL, CORS_ORIGINS."""
    from shared.config import get_settings  # read on use: importing pydantic-settings is slow

    settings = get_settings()
    ordered = [*DEV_ORIGINS, settings.FRONTEND_URL.rstrip("/"), *settings.CORS_ORIGINS]
    return list(dict.fromkeys(origin for origin in ordered if origin))


def azurite_launch_command() -> list[str]:
    """How to start the blob service: the create-blocks launcher, or a bare azurite-blob."""
    node = shutil.which("node")
    if AZURITE_BIN.exists() and node is not None:
        return [node, str(AZURITE_LAUNCHER)]
    binary = azurite_binary()
    if binary is None:
        raise AzuriteError("azurite-blob not found: run `npm ci` in the repository root")
    # An Azurite from PATH: block uploads with a create-only URL get 403 there.
    return [str(binary)]


def _launch(port: int, workspace: Path, timeout: float) -> AzuriteProcess:
    launcher = azurite_launch_command()
    workspace.mkdir(parents=True, exist_ok=True)
    log_path = workspace / "azurite.log"
    command = [
        *launcher,
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
    from shared.services.storage import provisioning  # the azure SDK loads on use only

    provisioning.configure_cors(origins, connection_string=connection_string)
    provisioning.ensure_containers(connection_string=connection_string)


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
        azurite = start_azurite(args.port, args.location, origins=args.origins, move_if_taken=True)
    except AzuriteError as exc:
        print(f"azurite: {exc}", file=sys.stderr)
        return 1
    print(f"AZURE_STORAGE_CONNECTION_STRING={azurite.connection_string}")
    process = azurite.process
    if process is None:
        print(f"azurite: already running on port {azurite.port}; containers and CORS applied")
        return 0
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    moved = f" ({azurite.note})" if azurite.note else ""
    print(f"azurite: listening on {AZURITE_HOST}:{azurite.port}{moved}, data in {azurite.location}")
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
