"""The example DAG: its shipped member file, how Airflow parses it, and one run of its task on the emulator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator

REPO = Path(__file__).resolve().parents[3]
DAG_FILE = REPO / "dags_examples" / "tiktok_audience_sync.py"
MEMBERS = REPO / "dags_examples" / "data" / "tiktok_audience_members.csv"

FIRST = [
    "ada",
    "ben",
    "cara",
    "dev",
    "eli",
    "fay",
    "gus",
    "hana",
    "ivo",
    "jun",
    "kai",
    "lea",
    "max",
    "nia",
    "oto",
    "pia",
    "quin",
    "ria",
    "sol",
    "tom",
]
LAST = [
    "adams",
    "brook",
    "chen",
    "diaz",
    "evans",
    "fox",
    "garcia",
    "hill",
    "ito",
    "jones",
    "khan",
    "lee",
    "mori",
    "nowak",
    "ortiz",
    "park",
    "quinn",
    "rossi",
    "silva",
    "tan",
]


def expected_members() -> list[str]:
    """How the shipped file was generated: 1,600 fake addresses at example.com."""
    return [f"{FIRST[i % 20]}.{LAST[(i // 20) % 20]}{i}@example.com" for i in range(1, 1601)]


@pytest.mark.unit
def test_member_file_is_the_deterministic_fake_list() -> None:
    assert MEMBERS.read_text() == "email\n" + "".join(m + "\n" for m in expected_members())
    assert len(set(expected_members())) == 1600


@pytest.mark.unit
def test_dag_parses_with_the_pool_and_an_hourly_schedule() -> None:
    from tests.helpers.airflow_compat import dag_bag_class

    DagBag = dag_bag_class()

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["tiktok_audience_sync"]
    task = dag.get_task("sync_cohort")
    assert isinstance(task, TikTokAudienceSyncOperator)
    assert (task.pool, task.pool_slots, task.mode, task.id_type) == ("tiktok_audience", 1, "mirror", "email")
    assert task.members == str(MEMBERS)
    assert dag.schedule == "@hourly"
    assert dag.max_active_runs == 1


@pytest.mark.integration
def test_the_task_syncs_the_file_to_the_emulator(emulator: EmulatorServer, tmp_path: Path) -> None:
    from tests.helpers.airflow_compat import dag_bag_class

    DagBag = dag_bag_class()

    task = DagBag(dag_folder=str(DAG_FILE)).dags["tiktok_audience_sync"].get_task("sync_cohort")
    task.state_uri = str(tmp_path)

    class TI:
        task_id, try_number = "sync_cohort", 1

        def xcom_push(self, key: str, value: object) -> None:
            pass

    summary = task.execute({"ti": TI(), "run_id": "manual__example"})
    assert (summary["members_in"], summary["valid"], summary["actions"], summary["usable"]) == (
        1600,
        1600,
        ["CREATE"],
        True,
    )
    expected = sorted(hashlib.sha256(m.encode()).hexdigest() for m in expected_members())
    assert emulator.state.audience_members(summary["audience_id"]) == expected
    assert emulator.state.audiences[summary["audience_id"]].name == "Example cohort (airflow-provider-tiktok)"
    again = task.execute({"ti": TI(), "run_id": "manual__example_2"})
    assert (again["actions"], again["audience_calls_used_today"]) == ([], 1)
