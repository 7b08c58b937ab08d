"""The local host's timer runner: NCRONTAB schedules as the Functions host reads them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import azure.functions as func
import pytest

from devhost.timer_runner import Schedule, ScheduleError, TimerTriggerRunner, resolve_settings
from devhost.triggers import HostOptions, HostStartupError

MOMENT = datetime(2026, 3, 14, 10, 7, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */15 * * * *", datetime(2026, 3, 14, 10, 15, 0, tzinfo=UTC)),
        ("*/10 * * * * *", datetime(2026, 3, 14, 10, 7, 40, tzinfo=UTC)),
        ("0 0 * * * *", datetime(2026, 3, 14, 11, 0, 0, tzinfo=UTC)),
        ("0 30 9 * * *", datetime(2026, 3, 15, 9, 30, 0, tzinfo=UTC)),
        ("0 0 9 * * Mon-Fri", datetime(2026, 3, 16, 9, 0, 0, tzinfo=UTC)),
        ("0 0 0 1 Jan *", datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 0 0 29 2 *", datetime(2028, 2, 29, 0, 0, 0, tzinfo=UTC)),
        ("5,50 7 10 * * *", datetime(2026, 3, 14, 10, 7, 50, tzinfo=UTC)),
        ("0 0 12 * * 0", datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)),
        ("0 0 12 * * 7", datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)),
        ("*/5 * * * *", datetime(2026, 3, 14, 10, 10, 0, tzinfo=UTC)),  # five fields: no seconds
    ],
)
def test_next_occurrence(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(MOMENT) == expected


def test_next_occurrence_is_strictly_later() -> None:
    on_the_dot = datetime(2026, 3, 14, 10, 15, 0, tzinfo=UTC)
    assert Schedule.parse("0 */15 * * * *").next_after(on_the_dot).minute == 30


@pytest.mark.parametrize(
    "expression", ["", "* * * *", "61 * * * * *", "* * 24 * * *", "*/0 * * * * *", "x * * * * *"]
)
def test_malformed_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(expression)


def test_app_setting_references_are_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANUP_SCHEDULE", "0 0 * * * *")
    assert resolve_settings("%CLEANUP_SCHEDULE%") == "0 0 * * * *"
    monkeypatch.delenv("CLEANUP_SCHEDULE")
    with pytest.raises(ScheduleError, match="CLEANUP_SCHEDULE"):
        resolve_settings("%CLEANUP_SCHEDULE%")


def _timer_functions(
    schedule: str, calls: list[bool], fired: threading.Event
) -> Sequence[func.Function]:
    app = func.FunctionApp()

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule=schedule)
    def tick(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)
        fired.set()

    return app.get_functions()


def test_the_runner_fires_the_function_on_schedule() -> None:
    calls: list[bool] = []
    fired = threading.Event()
    runner = TimerTriggerRunner(
        _timer_functions("* * * * * *", calls, fired), HostOptions("127.0.0.1", 0, "api")
    )
    assert runner.describe()[0].startswith("tick: timerTrigger * * * * * * (next ")
    runner.start()
    try:
        assert fired.wait(timeout=10), "the timer never fired"
    finally:
        runner.stop()
    assert calls[0] is False


def test_a_bad_schedule_stops_the_host_with_the_functions_name() -> None:
    with pytest.raises(HostStartupError, match="tick"):
        TimerTriggerRunner(
            _timer_functions("every minute", [], threading.Event()),
            HostOptions("127.0.0.1", 0, "api"),
        )
