"""Operations on the local host: the maintenance timer fires, local data survives a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 20.0

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalHost

    StartLocalHost = Callable[..., LocalHost]


def wait_for_output(host: LocalHost, text: str) -> None:
    """Wait until the host printed ``text``; fail with its output otherwise."""
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in host.output:
        if time.monotonic() > deadline or host.process.poll() is not None:
            pytest.fail(f"the local host never printed {text!r}:\n{host.output}")
        time.sleep(0.1)


def test_the_local_host_fires_the_maintenance_timer(start_local_host: StartLocalHost) -> None:
    host = start_local_host({"MAINTENANCE_SCHEDULE": "*/1 * * * * *"})
    wait_for_output(host, "maintenance: timerTrigger */1 * * * * * (next ")
    wait_for_output(host, "maintenance ran (timer)")
    assert '"event": "maintenance.done"' in host.output
