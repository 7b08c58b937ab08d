"""The timer-triggered maintenance job: a thin shell around shared.services.maintenance.

The schedule is read from the environment when the app is indexed (app settings are
environment variables before the worker starts): ``MAINTENANCE_SCHEDULE``, an NCRONTAB
expression with seconds first, default every 15 minutes.
"""

import os

import azure.functions as func

DEFAULT_SCHEDULE = "0 */15 * * * *"

bp = func.Blueprint()


def _schedule() -> str:
    return os.environ.get("MAINTENANCE_SCHEDULE", "").strip() or DEFAULT_SCHEDULE


@bp.function_name("maintenance")
@bp.timer_trigger(arg_name="timer", schedule=_schedule(), run_on_startup=False, use_monitor=True)
def maintenance(timer: func.TimerRequest) -> None:
    """Expire abandoned uploads, settle stuck ones, purge old quarantine, sweep expired data."""
    from shared.services.maintenance import run_maintenance

    run_maintenance()
