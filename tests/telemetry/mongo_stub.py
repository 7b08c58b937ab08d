"""A minimal MongoDB wire-protocol responder, so pymongo emits real command events.

The embedded database (mongomock) never reaches pymongo's networking, so it produces no
command events. This stub answers the handshake (OP_QUERY or OP_MSG ``hello``) like a
standalone server and every other OP_MSG command with ``{ok: 1}`` (``find`` with an
empty cursor): enough for pymongo's command listeners, which the telemetry hooks into.
It stores nothing and is only used by the telemetry probe.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import bson

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
_HEADER = struct.Struct("<iiii")


def _hello() -> dict[str, Any]:
    return {
        "isWritablePrimary": True,
        "ismaster": True,
        "helloOk": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "localTime": datetime.now(UTC),
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "ok": 1.0,
    }


def _answer(command: dict[str, Any]) -> dict[str, Any]:
    name = next(iter(command), "")
    if name.lower() in ("hello", "ismaster"):
        return _hello()
    if name == "find":
        namespace = f"{command.get('$db', 'test')}.{command['find']}"
        return {"cursor": {"id": 0, "ns": namespace, "firstBatch": []}, "ok": 1.0}
    return {"ok": 1.0}


def _read_exact(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _serve_connection(connection: socket.socket) -> None:
    with connection, suppress(OSError, ConnectionError):
        while True:
            length, request_id, _, opcode = _HEADER.unpack(_read_exact(connection, 16))
            body = _read_exact(connection, length - 16)
            if opcode == OP_QUERY:
                # flags, then the namespace as a C string, then skip and limit, then the query.
                name_end = body.index(b"\x00", 4)
                command = bson.decode(
                    body[name_end + 9 :][
                        : struct.unpack("<i", body[name_end + 9 : name_end + 13])[0]
                    ]
                )
                document = bson.encode(_answer(command))
                payload = struct.pack("<iqii", 0, 0, 0, 1) + document
                connection.sendall(
                    _HEADER.pack(16 + len(payload), 0, request_id, OP_REPLY) + payload
                )
            elif opcode == OP_MSG:
                # flag bits, then section kind 0 holding the command document.
                size = struct.unpack("<i", body[5:9])[0]
                command = bson.decode(body[5 : 5 + size])
                payload = struct.pack("<i", 0) + b"\x00" + bson.encode(_answer(command))
                connection.sendall(_HEADER.pack(16 + len(payload), 0, request_id, OP_MSG) + payload)
            else:
                return


@contextmanager
def running_mongo_stub() -> Iterator[int]:
    """Serve on a free loopback port until the block ends; yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve_connection, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopped.set()
        listener.close()
