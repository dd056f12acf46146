"""Several workers: the audience ledger, snapshot and claims live under the connection's ``state_uri``."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator
from tests.helpers.audiences import emails


class FakeTI:
    task_id = "sync"
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


@pytest.mark.integration
def test_the_connections_state_uri_holds_the_ledger_when_the_task_names_none(
    emulator: EmulatorServer, set_tiktok_conn, tmp_path, home
) -> None:
    shared = tmp_path / "mounted-share"
    set_tiktok_conn(
        host=emulator.url,
        token=ACCESS_TOKEN,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        rate_limit="1000",
        state_uri=str(shared),
    )
    op = TikTokAudienceSyncOperator(task_id="sync", members=emails(0, 1200), id_type="email", audience_name="Shared")
    op.hook.sleep = lambda seconds: None
    summary = op.execute({"ti": FakeTI(), "run_id": "manual__1"})
    assert summary["actions"] == ["CREATE"]
    (folder,) = shared.glob("audiences/*/*")
    assert (folder / "ledger.json").exists()
    assert len(list(folder.glob("claims/*/*"))) == 1  # the CREATE call's claim
    assert not (home / "tiktok" / "state").exists()  # nothing in this worker's own AIRFLOW_HOME
