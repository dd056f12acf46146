"""Step a deferring operator through its date-time trigger the way Airflow does, without waiting real time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

#: More deferrals than this in one task run means the operator never stops waiting.
MAX_DEFERRALS = 5


def execute_deferring(operator: Any, context: Mapping[str, Any], move_clock: Callable[[datetime], None]) -> Any:
    """``operator.execute(context)``; on each deferral move the clock to the trigger's moment (the trigger would
    fire then) and resume with the trigger's event, as the triggerer and the next worker would."""
    from airflow_provider_tiktok.compat import TaskDeferred

    method: Callable[..., Any] = operator.execute
    kwargs: dict[str, Any] = {}
    for _ in range(MAX_DEFERRALS):
        try:
            return method(context, **kwargs)
        except TaskDeferred as deferred:
            moment = deferred.trigger.moment
            move_clock(moment)
            method = getattr(operator, deferred.method_name)
            kwargs = {**(deferred.kwargs or {}), "event": moment}
    raise AssertionError(f"{operator.task_id} deferred more than {MAX_DEFERRALS} times in one run")
