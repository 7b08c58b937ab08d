"""What every benchmark shares: the app's environment, timing, and the result line run_all reads."""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import azure.functions as func

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH-RESULT "

# Settings every bench runs the app with: development mode, nothing needing Azurite.
APP_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "AZURE_STORAGE_CONNECTION_STRING": "",
    "AZURE_STORAGE_ACCOUNT_URL": "",
    "CLAMD_URL": "",
    "PASSWORD_BREACH_CHECK": "false",
    "FIRST_SUPERUSER_EMAIL": "",
    "FIRST_SUPERUSER_PASSWORD": "",
}


@dataclass(frozen=True)
class Result:
    """One figure checked against its DESIGN.md target.

    With a ``baseline`` the target bounds ``value / baseline``; without one it bounds
    ``value`` itself (a count such as database round trips).
    """

    bench: str
    metric: str
    value: float
    unit: str
    target: float
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        """``value / baseline``, or None for an absolute figure."""
        return None if self.baseline is None else self.value / self.baseline

    @property
    def passed(self) -> bool:
        """Whether the figure is within its target."""
        measured = self.value if self.ratio is None else self.ratio
        return measured <= self.target


class _DiscardingHandler(logging.Handler):
    """Formats every record (the cost a real log sink pays first), then drops it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def use_app_environment(**overrides: str) -> None:
    """Before the app is imported: its settings in os.environ, sys.path, and INFO logging.

    The Functions worker captures INFO records, so the app's access-log lines are
    built and formatted here too, then discarded.
    """
    os.environ.update(APP_ENVIRONMENT)
    os.environ.update(overrides)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_DiscardingHandler())


@cache
def app_functions() -> dict[str, Callable[[func.HttpRequest], func.HttpResponse]]:
    """The app's user functions by name; ``get_functions()`` may run only once per process."""
    import function_app

    functions: dict[str, Callable[[func.HttpRequest], func.HttpResponse]] = {}
    for function in function_app.app.get_functions():
        functions[str(function.get_function_name())] = function.get_user_function()
    return functions


def http_request(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    json_body: Any = None,
    route_params: Mapping[str, str] | None = None,
) -> func.HttpRequest:
    """A Functions HttpRequest as the host builds it for ``path`` (under /api)."""
    import azure.functions as func

    request_headers = dict(headers)
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        request_headers["Content-Type"] = "application/json"
    return func.HttpRequest(
        method,
        f"http://localhost/api{path}",
        headers=request_headers,
        params={},
        route_params=dict(route_params or {}),
        body=body,
    )


def call(function_name: str, request: func.HttpRequest, *, expect: int) -> func.HttpResponse:
    """Invoke one indexed function; raise when it answers another status than ``expect``."""
    response = app_functions()[function_name](request)
    if response.status_code != expect:
        body = (response.get_body() or b"")[:300].decode(errors="replace")
        raise RuntimeError(f"{function_name} answered {response.status_code}: {body}")
    return response


def response_json(response: func.HttpResponse) -> Any:
    """The decoded JSON body of a response."""
    return json.loads(response.get_body())


EMBEDDED_DATABASE_URL = "mongomock://"
BENCH_DATABASE_NAME = "runtime_traitors_bench"


def use_bench_database(**overrides: str) -> str:
    """Configure the app for ``BENCH_DATABASE_URL`` (default embedded); returns that URL."""
    database_url = os.environ.get("BENCH_DATABASE_URL", EMBEDDED_DATABASE_URL)
    use_app_environment(
        DATABASE_URL=database_url,
        DATABASE_NAME=os.environ.get("BENCH_DATABASE_NAME", BENCH_DATABASE_NAME),
        **overrides,
    )
    return database_url


def drop_bench_database() -> None:
    """Remove what a bench wrote to a real MongoDB, when it used the bench's own database."""
    from shared.config import get_settings

    settings = get_settings()
    if settings.database_url.startswith(EMBEDDED_DATABASE_URL):
        return
    if settings.DATABASE_NAME != BENCH_DATABASE_NAME:
        return  # a database the caller named may hold data worth keeping
    from pymongo.errors import PyMongoError

    from shared.db.client import get_database

    try:
        get_database().client.drop_database(BENCH_DATABASE_NAME)
    except PyMongoError as exc:  # don't hide the failure that brought us here
        print(f"could not drop {BENCH_DATABASE_NAME}: {type(exc).__name__}", file=sys.stderr)


BENCH_PASSWORD = "quiet-Lantern-orbit-1987!"  # noqa: S105 - a throwaway bench account


def register_user(email: str, *, client_ip: str) -> None:
    """Create an account through POST /v1/auth/register."""
    body = {"email": email, "password": BENCH_PASSWORD, "full_name": "Bench Mark"}
    request = http_request(
        "POST", "/v1/auth/register", headers={"X-Forwarded-For": client_ip}, json_body=body
    )
    call("auth_register", request, expect=201)


def login_request(email: str, *, client_ip: str) -> func.HttpRequest:
    """A POST /v1/auth/login request for the bench account."""
    return http_request(
        "POST",
        "/v1/auth/login",
        headers={"X-Forwarded-For": client_ip},
        json_body={"email": email, "password": BENCH_PASSWORD},
    )


def time_call(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def interleaved_medians(
    actions: Sequence[Callable[[], object]], *, runs: int, warmup: int = 0
) -> list[float]:
    """Median seconds per call of each action, alternating them so drift hits all alike."""
    for _ in range(warmup):
        for action in actions:
            action()
    samples: list[list[float]] = [[] for _ in actions]
    for run in range(runs):
        # Reverse the order every other round so neither action always goes first.
        order = range(len(actions)) if run % 2 == 0 else reversed(range(len(actions)))
        for index in order:
            samples[index].append(time_call(actions[index]))
    return [statistics.median(timings) for timings in samples]


def emit(results: Iterable[Result]) -> None:
    """Print the human summary of each result, then the one line run_all parses."""
    collected = list(results)
    for result in collected:
        print(f"  {describe(result)}")
    payload = [{**asdict(result), "passed": result.passed} for result in collected]
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def describe(result: Result) -> str:
    """``metric: value (ratio) target -> PASS/MISS`` on one line."""
    verdict = "PASS" if result.passed else "MISS"
    if result.ratio is None:
        return (
            f"{result.metric}: {format_value(result.value, result.unit)} "
            f"(target <= {format_value(result.target, result.unit)}) {verdict}"
        )
    return (
        f"{result.metric}: {format_value(result.value, result.unit)} vs "
        f"{format_value(result.baseline or 0.0, result.unit)} = {result.ratio:.2f}x "
        f"(target <= {result.target:g}x) {verdict}"
    )


def format_value(value: float, unit: str) -> str:
    """A figure with a precision that suits its unit."""
    if unit == "us":
        return f"{value:.1f} us"
    if unit in ("ms", "MiB"):
        return f"{value:.1f} {unit}"
    return f"{value:g} {unit}".rstrip()


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux carries ru_maxrss over fork and exec, so a child would report its parent's
    peak; VmHWM belongs to the current address space only and is read first.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
