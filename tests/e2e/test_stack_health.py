"""The stack's waits give up as soon as Airflow's scheduler is dead, naming its last error, instead of timing out."""

from __future__ import annotations

import pytest

from scripts.stack import SchedulerStopped, Stack

pytestmark = pytest.mark.unit

LOG = (
    "scheduler  | [info     ] Loaded executor\n"
    "scheduler  | sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) FOREIGN KEY constraint failed\n"
    "api-server | ValueError: not the scheduler's\n"
)


class FakeProcess:
    def __init__(self, returncode: int | None) -> None:
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


@pytest.fixture
def stack(tmp_path, requests_mock) -> Stack:
    stack = Stack(tmp_path, api_port=18080, emulator_port=18081)
    stack.procs["airflow"] = FakeProcess(None)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "standalone.out").write_text(LOG)
    return stack


def health(status: str) -> dict:
    return {"json": {"metadatabase": {"status": "healthy"}, "scheduler": {"status": status}}}


def test_scheduler_problem_names_the_schedulers_last_error(stack, requests_mock):
    requests_mock.get(stack.api_url + "/api/v2/monitor/health", [health("healthy"), health("unhealthy")])
    assert stack.scheduler_problem() is None
    assert (
        stack.scheduler_problem()
        == "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) FOREIGN KEY constraint failed"
    )
    stack.procs["airflow"] = FakeProcess(1)
    assert stack.scheduler_problem() == "airflow standalone exited"


def test_a_wait_stops_at_the_tenth_poll_once_the_scheduler_is_dead(stack, requests_mock, monkeypatch):
    requests_mock.get(stack.api_url + "/api/v2/monitor/health", [health("unhealthy")])
    polls = []
    monkeypatch.setattr("scripts.stack.time.sleep", lambda seconds: None)
    with pytest.raises(SchedulerStopped, match=r"IntegrityError.*standalone\.out"):
        stack.wait_scheduled(lambda: polls.append(1), timeout=3600, what="runs")
    assert len(polls) == 9  # the health check runs before every tenth poll
    assert stack.wait_scheduled(lambda: "done", timeout=1, what="runs") == "done"
