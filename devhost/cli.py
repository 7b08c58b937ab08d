"""Command line: `python -m devhost [--host] [--port] [--settings] [--app]`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from devhost.host import HostConfig, run
from devhost.indexing import DEFAULT_APP

DEFAULT_PORT = 7071


def parse_args(argv: Sequence[str] | None = None) -> HostConfig:
    """Read the command line; the port and app may also come from the environment."""
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run function_app locally without Azure Functions Core Tools "
        "(a development tool, not a production server).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LOCAL_HOST_PORT", DEFAULT_PORT)),
        help=f"port to listen on (env LOCAL_HOST_PORT, default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="settings file whose Values fill the environment "
        "(falls back to its .example; variables already set win)",
    )
    parser.add_argument(
        "--app",
        default=os.environ.get("LOCAL_HOST_APP", DEFAULT_APP),
        help=f"the FunctionApp as module:attribute (env LOCAL_HOST_APP, default {DEFAULT_APP})",
    )
    parser.add_argument(
        "--azurite",
        action="store_true",
        help="start (or reuse, if it serves this data folder) Azurite on 127.0.0.1 with CORS "
        "rules and containers, and stop it on exit (needs `npm ci`)",
    )
    parser.add_argument(
        "--azurite-port",
        type=int,
        default=10000,
        help="Azurite's port (default 10000); if another checkout's Azurite holds it, "
        "a free port is used and printed",
    )
    parser.add_argument(
        "--azurite-location",
        type=Path,
        default=Path(".azurite"),
        help="where Azurite keeps its data (default .azurite)",
    )
    parser.add_argument(
        "--db-dir",
        type=Path,
        default=os.environ.get("LOCAL_HOST_DB_DIR") or None,
        help="keep the embedded database (DATABASE_URL=mongomock://) in this folder: loaded "
        "at start, saved on exit, in mongodump's layout (env LOCAL_HOST_DB_DIR; "
        "`make run` uses .localdb)",
    )
    parser.add_argument(
        "--fresh-db",
        action="store_true",
        help="start with an empty embedded database even if --db-dir holds one",
    )
    args = parser.parse_args(argv)
    return HostConfig(
        host=args.host,
        port=args.port,
        settings=args.settings,
        app=args.app,
        azurite=args.azurite,
        azurite_location=args.azurite_location,
        azurite_port=args.azurite_port,
        db_dir=args.db_dir,
        fresh_db=args.fresh_db,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the local host; the process exit code."""
    return run(parse_args(argv))
