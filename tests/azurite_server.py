"""Azurite for tests: a free loopback port, a temporary workspace, stopped afterwards.

Use ``running_azurite()`` directly, or register this module as a pytest plugin
(``pytest_plugins = ["tests.azurite_server"]`` in the root conftest) to get the
session fixture ``azurite`` and the module fixture ``module_azurite``, which yield the
connection string.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from devhost.azurite import (
    AZURITE_ACCOUNT_NAME,
    DEV_ORIGINS,
    AzuriteProcess,
    azurite_binary,
    azurite_launch_command,
    start_azurite,
)
from tests.loopback import free_port, self_signed_certificate

MISSING_REASON = "Azurite is not installed: run `npm ci` in the repository root"


def require_azurite_binary() -> None:
    """Skip the calling test when azurite-blob is missing; fail instead under CI."""
    if azurite_binary() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{MISSING_REASON} (required when CI is set)")
    pytest.skip(MISSING_REASON)


@contextmanager
def running_azurite() -> Iterator[AzuriteProcess]:
    """Start a private Azurite (dev-origin CORS, app containers) and stop it afterwards."""
    require_azurite_binary()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        azurite = start_azurite(free_port(), location, origins=list(DEV_ORIGINS))
        with azurite:
            yield azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Connection string of an Azurite shared by the whole test session."""
    with running_azurite() as server:
        yield server.connection_string


@pytest.fixture(scope="module")
def module_azurite() -> Iterator[str]:
    """Connection string of an Azurite private to the test module (for account-wide changes)."""
    with running_azurite() as server:
        yield server.connection_string


# --- Azurite speaking HTTPS with Entra-style bearer tokens (the production code path) ---

FAKE_TENANT_ID = "72f988bf-0000-4000-8000-00000000beef"
FAKE_OBJECT_ID = "11059fcc-5514-4800-b5f8-49808b9cfab6"


@dataclass(frozen=True)
class HttpsAzurite:
    """An Azurite reachable only with a token credential over HTTPS."""

    account_url: str
    ca_bundle: Path


class FakeEntraCredential:
    """Unsigned Entra-shaped tokens: Azurite's ``--oauth basic`` checks claims, not signatures."""

    object_id = FAKE_OBJECT_ID

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """A token for the storage audience, valid one hour."""
        now = int(time.time())
        claims_set = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{FAKE_TENANT_ID}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": FAKE_OBJECT_ID,
            "tid": FAKE_TENANT_ID,
        }
        parts = [{"alg": "none", "typ": "JWT"}, claims_set]
        encoded = [_b64url(json.dumps(part).encode()) for part in parts]
        return AccessToken(".".join([*encoded, _b64url(b"unsigned")]), now + 3600)

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def running_https_azurite() -> Iterator[HttpsAzurite]:
    """Start a private Azurite with a self-signed TLS certificate and bearer-token auth."""
    require_azurite_binary()
    launcher = azurite_launch_command()
    with tempfile.TemporaryDirectory(prefix="azurite-https-") as location:
        workspace = Path(location)
        certificate = self_signed_certificate(workspace)
        cert, key = certificate.cert_file, certificate.key_file
        port = free_port()
        command = [
            *launcher,
            *("--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", location),
            *("--cert", str(cert), "--key", str(key), "--oauth", "basic"),
            *("--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"),
        ]
        with (workspace / "azurite.log").open("ab") as log:
            # Azurite fetches a SAS copy source itself: let its Node trust our certificate.
            env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(cert)}
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_until_answering(port, cert, process)
            yield HttpsAzurite(
                account_url=f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT_NAME}", ca_bundle=cert
            )
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_answering(port: int, cert: Path, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT_NAME}?comp=list"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"HTTPS Azurite exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2, context=context).close()
        except urllib.error.HTTPError:
            return  # an anonymous request is refused: Azurite is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
        else:
            return
    pytest.fail("HTTPS Azurite did not answer within 30 s")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
