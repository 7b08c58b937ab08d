"""The app through Microsoft's Python library worker, with this test playing the Functions host.

The worker (``azure-functions-runtime``, Python 3.13, its own virtualenv) indexes
``function_app`` with its own code and answers the host's protocol messages; the test
sends what the host sends - init, metadata request, loads, invocations - applies the
host's own rules to the metadata (route conflicts, routing by template), and checks
what users would see: every documented route served, registration answered, and an
uploaded picture processed by the blob trigger from model binding data.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.azurite_server import running_azurite
from tests.conformance.worker_env import (
    HERE,
    ROOT,
    require_python313,
    worker_virtualenv,
)
from tests.media_samples import write_png

pytestmark = [pytest.mark.worker, pytest.mark.azurite]

HOST_VERSION = "4.1037.0"
ROUTE_PREFIX = "api"  # host.json extensions.http.routePrefix
BASE_URL = "http://localhost:7071"
REPLY_TIMEOUT_SECONDS = 60.0
PASSWORD = "Worker conformance: 7 trains of thought"


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function as the host reads it from the worker's metadata."""

    name: str
    function_id: str
    route: str
    methods: tuple[str, ...]
    trigger_parameter: str


@dataclass(frozen=True)
class Answer:
    """What the host would send the client for one request."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def http_routes_conflict(first: HttpFunction, second: HttpFunction) -> bool:
    """The host's rule: same template (slashes trimmed, any case) and intersecting methods."""
    if first.route.strip("/").lower() != second.route.strip("/").lower():
        return False
    if not first.methods or not second.methods:
        return True  # an empty list is every method
    return bool({m.upper() for m in first.methods} & {m.upper() for m in second.methods})


def functions_the_host_loads(
    functions: list[HttpFunction],
) -> tuple[list[HttpFunction], list[tuple[str, str]]]:
    """Functions in name order, each refused if it conflicts with one already taken."""
    loaded: list[HttpFunction] = []
    refused: list[tuple[str, str]] = []
    for function in sorted(functions, key=lambda f: f.name.lower()):
        clash = next((other for other in loaded if http_routes_conflict(function, other)), None)
        if clash is None:
            loaded.append(function)
        else:
            refused.append((function.name, clash.name))
    return loaded, refused


_PARAMETER = re.compile(r"^\{\*?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraint>.*))?\}$")


def match_route(template: str, path: str) -> dict[str, str] | None:
    """Route values when the path fits the ASP.NET-style template (regex constraints honoured)."""
    wanted = [s for s in f"{ROUTE_PREFIX}/{template}".split("/") if s]
    given = [s for s in path.split("/") if s]
    if len(wanted) != len(given):
        return None
    values: dict[str, str] = {}
    for pattern, segment in zip(wanted, given, strict=True):
        parameter = _PARAMETER.match(pattern)
        if parameter is None:
            if pattern.lower() != segment.lower():
                return None
            continue
        constraint = (parameter["constraint"] or "").replace("{{", "{").replace("}}", "}")
        regex = re.fullmatch(r"regex\((.*)\)", constraint)
        if regex and not re.search(regex[1], segment):
            return None
        values[parameter["name"]] = segment
    return values


@dataclass
class PlayedHost:
    """The host's side of the worker protocol, over the driver's stdin and stdout."""

    process: subprocess.Popen[str]
    errors: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    _replies: list[str] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def start_reading(self) -> None:
        """Collect replies and the worker's stderr on background threads."""
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        threading.Thread(
            target=self._read_replies, args=(self.process.stdout,), daemon=True
        ).start()
        threading.Thread(
            target=self.errors.extend, args=(self.process.stderr,), daemon=True
        ).start()

    def _read_replies(self, stream: IO[str]) -> None:
        for line in stream:
            with self._arrived:
                self._replies.append(line)
                self._arrived.notify_all()
        with self._arrived:
            self._arrived.notify_all()

    def send(self, **content: Any) -> dict[str, Any]:
        """Send one StreamingMessage (proto3 JSON) and wait for the worker's answer to it."""
        request_id = uuid.uuid4().hex
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"request_id": request_id, **content}) + "\n")
        self.process.stdin.flush()
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: bool(self._replies) or self.process.poll() is not None,
                timeout=REPLY_TIMEOUT_SECONDS,
            ):
                pytest.fail(f"the worker did not answer:\n{self.stderr}")
            if not self._replies:
                pytest.fail(f"the worker exited with {self.process.poll()}:\n{self.stderr}")
            reply: dict[str, Any] = json.loads(self._replies.pop(0))
        assert reply["request_id"] == request_id
        return reply

    @property
    def stderr(self) -> str:
        """What the worker and the app logged."""
        return "".join(self.errors)[-6000:]

    def http_functions(self) -> list[HttpFunction]:
        """Every HTTP-triggered function in the metadata."""
        found = []
        for function in self.metadata:
            for binding in function["bindings"]:
                if binding["type"] == "httpTrigger":
                    found.append(
                        HttpFunction(
                            name=function["name"],
                            function_id=function["function_id"],
                            route=binding.get("route") or function["name"],
                            methods=tuple(binding.get("methods") or ()),
                            trigger_parameter=binding["name"],
                        )
                    )
        return found

    def route(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        """The loaded function the host would pick for this request, and its route values."""
        loaded, _ = functions_the_host_loads(self.http_functions())
        for function in loaded:
            values = match_route(function.route, path)
            if values is not None and (
                not function.methods or method.upper() in {m.upper() for m in function.methods}
            ):
                return function, values
        return None

    def request(
        self,
        method: str,
        path_and_query: str,
        *,
        json_body: Any = None,
        token: str | None = None,
    ) -> Answer:
        """One HTTP request as the host forwards it; the host's own 404 when nothing matches."""
        address = urlsplit(path_and_query)
        routed = self.route(method, address.path)
        if routed is None:
            return Answer(404, {}, b"")
        function, values = routed
        headers = {"Host": "localhost:7071", "User-Agent": "worker-conformance"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        http: dict[str, Any] = {
            "method": method,
            "url": BASE_URL + path_and_query,
            "headers": headers,
            "query": dict(parse_qsl(address.query)),
            "params": values,
        }
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
            http["body"] = {"bytes": base64.b64encode(body).decode()}
        reply = self.invoke(function.function_id, function.trigger_parameter, {"http": http}, {})
        returned = reply["return_value"]["http"]
        body_data = returned.get("body", {})
        if "bytes" in body_data:
            payload = base64.b64decode(body_data["bytes"])
        else:
            payload = str(body_data.get("string", "")).encode()
        return Answer(int(returned.get("status_code", "200")), returned.get("headers", {}), payload)

    def invoke(
        self,
        function_id: str,
        parameter: str,
        data: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any],
    ) -> dict[str, Any]:
        """An InvocationRequest; the worker's InvocationResponse, which must be a success."""
        invocation_id = str(uuid.uuid4())
        reply = self.send(
            invocation_request={
                "invocation_id": invocation_id,
                "function_id": function_id,
                "input_data": [{"name": parameter, "data": dict(data)}],
                "trigger_metadata": dict(trigger_metadata),
                "trace_context": {"trace_parent": f"00-{uuid.uuid4().hex}-{'1' * 16}-01"},
            }
        )["invocation_response"]
        assert reply["invocation_id"] == invocation_id
        assert reply["result"].get("status") == "Success", (reply["result"], self.stderr)
        return reply


def _bindings(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in function.get("raw_bindings", [])]


@pytest.fixture(scope="module")
def azurite_connection() -> Iterator[str]:
    """A private Azurite for the worker's storage and its blob trigger."""
    with running_azurite() as server:
        yield server.connection_string


@pytest.fixture(scope="module")
def host(azurite_connection: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlayedHost]:
    """The library worker, initialised, indexed and with every function loaded."""
    interpreter = worker_virtualenv(require_python313())
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    environment |= {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsScriptRoot": str(ROOT),
        "ENVIRONMENT": "development",  # the embedded database is allowed only here
        "DATABASE_URL": "mongomock://",
        "DATABASE_NAME": f"worker_{uuid.uuid4().hex[:10]}",
        "BCRYPT_ROUNDS": "4",
        "RATE_LIMIT_ENABLED": "false",
        "CLAMD_URL": "",
        "SMTP_HOST": "",
        "PASSWORD_BREACH_CHECK": "false",
        "AZURE_STORAGE_CONNECTION_STRING": azurite_connection,
        "AZURE_STORAGE_ACCOUNT_URL": "",
        "UploadsStorage": azurite_connection,
        "UPLOADS_CONTAINER": "uploads",
        "PYTHONUNBUFFERED": "1",
    }
    environment.pop("UPLOADS_TRIGGER_SOURCE", None)  # Azure's default: Event Grid
    process = subprocess.Popen(
        [
            str(interpreter),
            str(HERE / "worker_driver.py"),
            str(ROOT),
            str(HERE / "function_rpc.proto"),
        ],
        cwd=tmp_path_factory.mktemp("worker"),
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    played = PlayedHost(process)
    played.start_reading()
    try:
        init = played.send(
            worker_init_request={
                "host_version": HOST_VERSION,
                "capabilities": {},
                "function_app_directory": str(ROOT),
                "worker_directory": str(interpreter.parent.parent),
            }
        )["worker_init_response"]
        assert init["result"].get("status") == "Success", (init["result"], played.stderr)
        answer = played.send(functions_metadata_request={"function_app_directory": str(ROOT)})
        response = answer["function_metadata_response"]
        assert response["result"].get("status") == "Success", (response, played.stderr)
        assert not response.get("use_default_metadata_indexing"), "the worker must index itself"
        played.metadata = [
            {**function, "bindings": _bindings(function)}
            for function in response["function_metadata_results"]
        ]
        for function in response["function_metadata_results"]:
            loaded = played.send(
                function_load_request={
                    "function_id": function["function_id"],
                    "metadata": {"name": function["name"], "directory": str(ROOT)},
                }
            )["function_load_response"]
            assert loaded["result"].get("status") == "Success", loaded
        yield played
    finally:
        assert played.process.stdin is not None
        played.process.stdin.close()
        try:
            played.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            played.process.kill()
            played.process.wait()


def test_the_worker_indexes_every_function_with_what_the_host_needs(host: PlayedHost) -> None:
    names = [function["name"] for function in host.metadata]
    assert names
    assert len(names) == len(set(names))
    assert len({function["function_id"] for function in host.metadata}) == len(names)
    for function in host.metadata:
        assert function["language"] == "python"
        assert function["script_file"] == "function_app.py"
        assert function["properties"] == {"worker_indexed": "True"}
        triggers = [b for b in function["bindings"] if b["type"].endswith("Trigger")]
        assert len(triggers) == 1, function["name"]
        if triggers[0]["type"] != "httpTrigger":
            continue
        (trigger,) = triggers
        assert trigger["authLevel"] == "ANONYMOUS", function["name"]
        assert trigger["methods"], f"{function['name']}: an empty list would take every method"
        assert not trigger["route"].startswith("/"), function["name"]
        assert not trigger["route"].lower().startswith("admin"), "the host reserves admin/"
        outputs = [b for b in function["bindings"] if b["direction"] == "OUT"]
        assert outputs == [{"direction": "OUT", "type": "http", "name": "$return"}]


def test_the_blob_trigger_asks_for_model_binding_data_from_event_grid(host: PlayedHost) -> None:
    blob_functions = [
        (function, binding)
        for function in host.metadata
        for binding in function["bindings"]
        if binding["type"] == "blobTrigger"
    ]
    assert len(blob_functions) == 1
    function, binding = blob_functions[0]
    assert binding["direction"] == "IN"
    assert binding["path"] == "uploads/{name}"
    assert binding["connection"] == "UploadsStorage"
    assert binding["source"] == "EventGrid"  # the only blob source Flex Consumption offers
    # Without this the host reads the whole blob into the invocation message.
    assert binding["properties"] == {"SupportsDeferredBinding": True}
    assert function["bindings"] == [binding], "a blob trigger with no output bindings"


def test_the_host_loads_every_http_function_without_a_route_conflict(host: PlayedHost) -> None:
    _, refused = functions_the_host_loads(host.http_functions())
    assert refused == [], [
        f"{name}: the route conflicts with the route defined by function '{other}'"
        for name, other in refused
    ]


def test_every_documented_operation_reaches_a_function_the_host_loads(host: PlayedHost) -> None:
    document = host.request("GET", "/api/v1/openapi.json")
    assert document.status == 200
    unserved = []
    for path, operations in document.json()["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "0123456789abcdef01234567", path)
        for method in operations:
            is_operation = method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}
            if is_operation and host.route(method, concrete) is None:
                unserved.append(f"{method.upper()} {path}")
    assert unserved == []


def test_health_and_registration_answer_through_the_worker(host: PlayedHost) -> None:
    health = host.request("GET", "/api/v1/health")
    assert health.status == 200
    assert health.json()["status"] == "ok"
    assert health.headers.get("Content-Type", "").startswith("application/json")

    email = f"worker-{uuid.uuid4().hex[:8]}@example.com"
    registered = host.request(
        "POST",
        "/api/v1/auth/register",
        json_body={"email": email, "password": PASSWORD, "full_name": "Worker Check"},
    )
    assert registered.status == 201, (registered.body, host.stderr)
    assert registered.json()["email"] == email
    assert "password" not in registered.body.decode().lower()

    again = host.request(
        "POST", "/api/v1/auth/register", json_body={"email": email, "password": PASSWORD}
    )
    assert again.status == 409
    assert again.headers.get("Content-Type", "").startswith("application/problem+json")


def _signed_in(host: PlayedHost) -> str:
    email = f"uploader-{uuid.uuid4().hex[:8]}@example.com"
    registered = host.request(
        "POST", "/api/v1/auth/register", json_body={"email": email, "password": PASSWORD}
    )
    assert registered.status == 201, (registered.body, host.stderr)
    login = host.request(
        "POST", "/api/v1/auth/login", json_body={"email": email, "password": PASSWORD}
    )
    assert login.status == 200, login.body
    token: str = login.json()["access_token"]
    me = host.request("GET", "/api/v1/users/me", token=token)
    assert me.status == 200, "GET /users/me must reach its function"
    assert me.json()["email"] == email
    return token


def test_an_uploaded_picture_is_processed_by_the_blob_trigger(
    host: PlayedHost, tmp_path: Path
) -> None:
    token = _signed_in(host)
    picture = write_png(tmp_path).read_bytes()
    created = host.request(
        "POST",
        "/api/v1/uploads",
        json_body={"filename": "p.png", "content_type": "image/png", "size_bytes": len(picture)},
        token=token,
    )
    assert created.status == 201, created.body
    upload = created.json()
    instructions = upload["upload"]
    put = urllib.request.Request(  # the browser's PUT, straight to storage with the SAS
        instructions["url"], data=picture, method="PUT", headers=instructions["headers"]
    )
    with urllib.request.urlopen(put, timeout=30) as stored:
        assert stored.status == 201
        etag = stored.headers["ETag"]

    # What the host sends for a trigger parameter that supports deferred binding.
    container, blob_name = urlsplit(instructions["url"]).path.split("/", 3)[2:]
    (processor,) = [
        f for f in host.metadata if any(b["type"] == "blobTrigger" for b in f["bindings"])
    ]
    reference = {"Connection": "UploadsStorage", "ContainerName": container, "BlobName": blob_name}
    model_binding_data = {
        "version": "1.0",
        "source": "AzureStorageBlobs",
        "content_type": "application/json",
        "content": base64.b64encode(json.dumps(reference).encode()).decode(),
    }

    def deliver(announced_etag: str) -> None:
        properties = {"ETag": announced_etag, "ContentLength": len(picture)}
        trigger_metadata = {
            "BlobTrigger": {"string": f"{container}/{blob_name}"},
            "Uri": {"string": instructions["url"].split("?", 1)[0]},
            "Properties": {"json": json.dumps(properties)},
            "name": {"string": blob_name},
        }
        reply = host.invoke(
            processor["function_id"],
            processor["bindings"][0]["name"],
            {"model_binding_data": model_binding_data},
            trigger_metadata,
        )
        assert "return_value" not in reply

    # The worker hands the Properties metadata to the converter: an event announcing a
    # version the blob no longer has changes nothing; the one for its version processes it.
    deliver('"0x8D0000000000000"')
    before = host.request("GET", f"/api/v1/uploads/{upload['id']}", token=token)
    assert before.json()["status"] not in ("ready", "rejected"), before.body
    deliver(etag)

    after = host.request("GET", f"/api/v1/uploads/{upload['id']}", token=token)
    assert after.status == 200, "GET /uploads/{id} must reach its function"
    processed = after.json()
    assert processed["status"] == "ready", processed
    assert processed["metadata"] == {"width": 60, "height": 40, "format": "png"}
    assert processed["download_url"].startswith("http")
