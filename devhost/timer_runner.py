"""Fires timer-triggered functions on their NCRONTAB schedule, as the Functions host does.

A schedule has six fields, seconds first (``{second} {minute} {hour} {day} {month}
{day-of-week}``); five fields mean second 0. A field is ``*``, a number, a name
(``Jan``, ``Mon``), a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of
those. ``%NAME%`` is replaced by the environment variable NAME. Times are UTC. One
thread per function sleeps until the next occurrence and invokes it; a run still going
when the next one is due delays it, as on the real host (one run at a time).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest

from devhost.indexing import function_name, trigger_binding
from devhost.invocation import FunctionInvoker
from devhost.triggers import HostOptions, HostStartupError

logger = logging.getLogger(__name__)

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_SETTING = re.compile(r"%([^%]+)%")
# (low, high, names starting at low) for second, minute, hour, day, month, day-of-week.
_FIELDS: tuple[tuple[int, int, list[str]], ...] = (
    (0, 59, []),
    (0, 59, []),
    (0, 23, []),
    (1, 31, []),
    (1, 12, _MONTHS),
    (0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 5  # long enough for 29 February on a given weekday


class ScheduleError(ValueError):
    """A schedule the local host cannot read."""


@dataclass(frozen=True)
class Schedule:
    """A parsed NCRONTAB expression."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Parse six (or five) fields; raise ScheduleError naming what is wrong."""
        parts = text.split()
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise ScheduleError(f"{text!r} is not an NCRONTAB expression of 6 fields")
        sets = [
            _parse_field(part, *spec, text=text) for part, spec in zip(parts, _FIELDS, strict=True)
        ]
        seconds, minutes, hours, days, months, weekdays = (frozenset(v) for v in sets)
        return cls(
            text=text,
            seconds=seconds,
            minutes=minutes,
            hours=hours,
            days=days,
            months=months,
            weekdays=frozenset(day % 7 for day in weekdays),
            any_day=parts[3] in ("*", "?"),
            any_weekday=parts[5] in ("*", "?"),
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (UTC, whole seconds)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        for _ in range(_SEARCH_DAYS):
            if day.month in self.months and self._day_matches(day):
                found = self._first_time_on(day, start)
                if found is not None:
                    return found
            day += timedelta(days=1)
        raise ScheduleError(f"{self.text!r} never fires")

    def _day_matches(self, day: datetime) -> bool:
        by_date = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if not self.any_day and not self.any_weekday:
            return by_date or by_weekday  # cron: either restriction suffices
        return by_date and by_weekday

    def _first_time_on(self, day: datetime, start: datetime) -> datetime | None:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                for second in sorted(self.seconds):
                    candidate = day.replace(hour=hour, minute=minute, second=second)
                    if candidate >= start:
                        return candidate
        return None


def _parse_field(part: str, low: int, high: int, names: list[str], *, text: str) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        body, _, step_text = item.partition("/")
        step = _number(step_text, names=[], low=low, text=text) if step_text else 1
        if body in ("*", "?"):
            first, last = low, high
        elif "-" in body:
            first_text, _, last_text = body.partition("-")
            first = _number(first_text, names=names, low=low, text=text)
            last = _number(last_text, names=names, low=low, text=text)
        else:
            first = _number(body, names=names, low=low, text=text)
            last = high if step_text else first
        if not low <= first <= last <= high or step < 1:
            raise ScheduleError(f"{item!r} is out of range {low}-{high} in {text!r}")
        values.update(range(first, last + 1, step))
    return values


def _number(value: str, *, names: list[str], low: int, text: str) -> int:
    upper = value.strip().upper()
    if upper[:3] in names and upper.isalpha():
        return names.index(upper[:3]) + low
    if not upper.isdigit():
        raise ScheduleError(f"{value!r} is not a number or a name in {text!r}")
    return int(upper)


def resolve_settings(schedule: str) -> str:
    """Replace each ``%NAME%`` with the environment variable NAME, as the host does."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in os.environ:
            raise ScheduleError(f"the schedule names %{name}% but {name} is not set")
        return os.environ[name]

    return _SETTING.sub(value, schedule)


@dataclass(frozen=True)
class TimerFunction:
    """One timer-triggered function and its schedule."""

    name: str
    schedule: Schedule
    run_on_startup: bool
    argument: str
    user_function: Callable[..., Any]

    @classmethod
    def from_function(cls, function: func.Function) -> TimerFunction:
        binding = trigger_binding(function)
        name = function_name(function)
        try:
            schedule = Schedule.parse(resolve_settings(str(binding["schedule"])))
        except ScheduleError as exc:
            raise HostStartupError(f"{name}: {exc}") from exc
        return cls(
            name=name,
            schedule=schedule,
            run_on_startup=bool(binding.get("runOnStartup")),
            argument=binding["name"],
            user_function=function.get_user_function(),
        )


class TimerTriggerRunner:
    """Invokes each timer function at every occurrence of its schedule."""

    def __init__(
        self,
        functions: Sequence[func.Function],
        options: HostOptions,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.timers = [TimerFunction.from_function(f) for f in functions]
        self.invoker = FunctionInvoker()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def describe(self) -> list[str]:
        """`name: timerTrigger <schedule> (next <time> UTC)` per function."""
        now = self._clock()
        return [
            f"{t.name}: timerTrigger {t.schedule.text} "
            f"(next {t.schedule.next_after(now):%Y-%m-%d %H:%M:%S} UTC)"
            for t in self.timers
        ]

    def start(self) -> None:
        """One thread per timer function."""
        for timer in self.timers:
            thread = threading.Thread(
                target=self._loop, args=(timer,), name=f"devhost-timer-{timer.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop scheduling and let a running invocation finish."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.invoker.close()

    def _loop(self, timer: TimerFunction) -> None:
        if timer.run_on_startup:
            self._fire(timer, past_due=False)
        due = timer.schedule.next_after(self._clock())
        while not self._stop.wait(max(0.0, (due - self._clock()).total_seconds())):
            if self._clock() < due:
                continue  # woke early (clock adjustments): sleep the rest
            # A run that ends after later occurrences were due counts as past due.
            self._fire(timer, past_due=self._clock() - due > timedelta(seconds=1))
            due = timer.schedule.next_after(max(due, self._clock()))

    def _fire(self, timer: TimerFunction, *, past_due: bool) -> None:
        try:
            self.invoker.call(
                timer.user_function, {timer.argument: TimerRequest(past_due=past_due)}
            )
        except Exception:
            logger.exception("%s failed (timer)", timer.name)
        else:
            logger.info("%s ran (timer)", timer.name)
