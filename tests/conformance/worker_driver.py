"""Runs inside the worker's own virtualenv: Microsoft's library worker, fed host messages.

On Azure the Functions host talks gRPC to the Python *proxy* worker, which hands each
StreamingMessage to the library worker (``azure_functions_runtime``) together with the
generated protobuf module. This script does that hand-over and nothing else: it reads
one host message per line on stdin (the proto3 JSON form of a StreamingMessage),
encodes it to protobuf bytes and decodes it again as the worker's side of the wire
would, calls the library's handler for that message, and writes the library's answer
back as one JSON line on the protocol stream (a copy of stdout taken at start; the
app's own prints and logs go to stderr). Every decision about the app - what it
indexes, how it decodes bindings, what the functions return - is the library's.

Usage: ``python worker_driver.py APP_DIRECTORY PROTO_FILE``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


def compile_protocol(proto_file: Path, into: Path) -> ModuleType:
    """Generate the protobuf module for the test's protocol subset and import it."""
    from grpc_tools import protoc  # type: ignore[import-untyped]

    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    status = protoc.main(
        [
            "protoc",
            f"-I{proto_file.parent}",
            f"-I{include}",
            f"--python_out={into}",
            str(proto_file),
        ]
    )
    if status != 0:
        raise SystemExit(f"protoc failed on {proto_file} ({status})")
    sys.path.insert(0, str(into))
    return importlib.import_module(proto_file.stem + "_pb2")


@dataclass
class ProxyRequest:
    """What the proxy worker passes to a library handler: the message and its properties."""

    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


# Which library handler answers which host message, and the answer's field name.
HANDLERS = {
    "worker_init_request": ("worker_init_request", "worker_init_response"),
    "functions_metadata_request": ("functions_metadata_request", "function_metadata_response"),
    "function_load_request": ("function_load_request", "function_load_response"),
    "invocation_request": ("invocation_request", "invocation_response"),
}


async def serve(protos: ModuleType, out: Any) -> None:
    """Answer host messages from stdin until it closes."""
    import azure_functions_runtime as library  # type: ignore[import-not-found]
    from google.protobuf import json_format

    library.start_threadpool_executor()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        sent = json_format.ParseDict(json.loads(line), protos.StreamingMessage())
        received = protos.StreamingMessage.FromString(sent.SerializeToString())
        kind = received.WhichOneof("content")
        if kind not in HANDLERS:
            raise SystemExit(f"the test sent a message the worker does not take: {kind}")
        handler_name, answer_field = HANDLERS[kind]
        handler = getattr(library, handler_name)
        answer = await handler(ProxyRequest(received, {"host": "127.0.0.1", "protos": protos}))
        reply = protos.StreamingMessage(request_id=received.request_id)
        getattr(reply, answer_field).CopyFrom(answer)
        wire = protos.StreamingMessage.FromString(reply.SerializeToString())
        document = json_format.MessageToDict(wire, preserving_proto_field_name=True)
        out.write(json.dumps(document) + "\n")
        out.flush()
    library.stop_threadpool_executor()


def main() -> None:
    """Set the process up the way the proxy worker does, then serve."""
    app_directory, proto_file = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    # The protocol keeps its own copy of stdout; everything the app prints goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # The proxy worker forwards log records to the host; here they go to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    os.chdir(app_directory)
    sys.path.insert(0, str(app_directory))
    with tempfile.TemporaryDirectory(prefix="worker-protos-") as generated:
        protos = compile_protocol(proto_file, Path(generated))
        asyncio.run(serve(protos, protocol))


if __name__ == "__main__":
    main()
