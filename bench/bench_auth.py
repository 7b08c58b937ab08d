"""Login cost vs bcrypt alone.

POST /api/v1/auth/login through the indexed function (rate limit on, every call from
its own address so none is refused) against a bare ``bcrypt.checkpw`` at the same
cost on an input of the same length as the app's pre-hash (44 bytes of base64).
The two alternate so drift hits both alike.

Cost: ``BENCH_BCRYPT_ROUNDS`` (default 12, the app's default); database:
``BENCH_DATABASE_URL`` (default ``mongomock://``).

Run alone: ``python bench/bench_auth.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import secrets
import sys
import uuid
from collections.abc import Callable

import bcrypt
from _common import (
    Result,
    call,
    drop_bench_database,
    emit,
    interleaved_medians,
    login_request,
    register_user,
    use_bench_database,
)

TARGET_RATIO = 1.1
DEFAULT_RUNS = 7
DEFAULT_ROUNDS = 12
PREHASH_BYTES = 32  # HMAC-SHA-256, base64-encoded to 44 bytes as the app feeds bcrypt


def bare_checkpw(rounds: int) -> Callable[[], object]:
    """The floor: one bcrypt.checkpw of a 44-byte input against a hash at ``rounds``."""
    prehashed = base64.b64encode(secrets.token_bytes(PREHASH_BYTES))
    hashed = bcrypt.hashpw(prehashed, bcrypt.gensalt(rounds=rounds))

    def check() -> object:
        if not bcrypt.checkpw(prehashed, hashed):
            raise RuntimeError("bcrypt rejected its own hash")
        return None

    return check


def app_login(email: str) -> Callable[[], object]:
    """One successful POST /v1/auth/login, each from a new client address."""
    addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))

    def login() -> object:
        return call("auth_login", login_request(email, client_ip=next(addresses)), expect=200)

    return login


def main() -> int:
    """Register a user, time logins against bare bcrypt, emit the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="logins to time (>= 5)")
    args = parser.parse_args()
    runs = max(args.runs, 5)
    rounds = int(os.environ.get("BENCH_BCRYPT_ROUNDS", DEFAULT_ROUNDS))
    use_bench_database(BCRYPT_ROUNDS=str(rounds), RATE_LIMIT_ENABLED="true")
    try:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        register_user(email, client_ip="192.0.2.1")
        login_s, bcrypt_s = interleaved_medians(
            [app_login(email), bare_checkpw(rounds)], runs=runs, warmup=1
        )
    finally:
        drop_bench_database()
    print(f"Login at bcrypt cost {rounds}, median of {runs} interleaved runs:")
    print(f"  bcrypt.checkpw (44-byte input)   {bcrypt_s * 1000:7.1f} ms")
    print(f"  POST /v1/auth/login              {login_s * 1000:7.1f} ms")
    print(f"  login beyond bcrypt              {(login_s - bcrypt_s) * 1000:7.1f} ms")
    emit(
        [
            Result(
                bench="auth",
                metric=f"POST /v1/auth/login vs bcrypt ({rounds} rounds)",
                value=login_s * 1000,
                baseline=bcrypt_s * 1000,
                unit="ms",
                target=TARGET_RATIO,
            )
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
