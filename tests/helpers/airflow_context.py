"""Stand-ins for what Airflow hands an operator's ``execute``: a task instance that records XCom pushes."""

from __future__ import annotations

from typing import Any


class FakeTaskInstance:
    """Records what an operator pushes to XCom; names its run like a real task instance."""

    def __init__(self, run_id: str = "manual__test", dag_id: str = "test_dag", task_id: str = "task") -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index = dag_id, task_id, run_id, -1
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value
