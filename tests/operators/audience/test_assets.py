"""The sync's outlet: the audience's asset declared at parse time when the DAG names it literally, else an
alias the run attaches it to; either way the asset event carries the sync's counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators.audience import ASSET_ALIAS, TikTokAudienceSyncOperator
from tests.helpers.audiences import emails
from tests.operators.audience.test_operator import context, operator

BASE = {"task_id": "sync", "members": ["a@example.com"], "id_type": "email"}


def run_context() -> dict[str, Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {**context(), "outlet_events": OutletEventAccessors()}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "uri"),
    [
        ({"advertiser_id": ADVERTISER_A, "audience_id": "7100000000000000009"}, "7100000000000000009"),
        ({"advertiser_id": int(ADVERTISER_A), "audience_id": 7100000000000000009}, "7100000000000000009"),
        ({"advertiser_id": f" {ADVERTISER_A} ", "audience_name": "Buyers / 30 days"}, "Buyers%20%2F%2030%20days"),
        # an id given wins over the name: the ledger is kept per id too
        ({"advertiser_id": ADVERTISER_A, "audience_id": "42", "audience_name": "Buyers"}, "42"),
    ],
)
def test_a_literal_audience_declares_its_asset(kwargs, uri):
    from airflow.sdk import Asset

    assert TikTokAudienceSyncOperator(**BASE, **kwargs).outlets == [
        Asset(uri=f"tiktok-audience://{ADVERTISER_A}/{uri}")
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    "kwargs",
    [
        {"audience_name": "Buyers"},  # the advertiser comes from the connection at run time
        {"advertiser_id": "{{ params.advertiser }}", "audience_name": "Buyers"},
        {"advertiser_id": ADVERTISER_A, "audience_name": "Buyers {{ ds }}"},
        {"advertiser_id": ADVERTISER_A, "audience_id": "{{ params.audience }}"},
    ],
)
def test_an_audience_known_at_run_time_declares_the_alias(kwargs):
    from airflow.sdk import Asset, AssetAlias

    assert TikTokAudienceSyncOperator(**BASE, **kwargs).outlets == [AssetAlias(name=ASSET_ALIAS)]
    mine = Asset(uri="s3://crm/cohorts")
    assert TikTokAudienceSyncOperator(**BASE, **kwargs, outlets=[mine]).outlets == [mine, AssetAlias(name=ASSET_ALIAS)]


@pytest.mark.integration
def test_the_declared_asset_carries_the_sync_counts(emulator: EmulatorServer, state_root: Path) -> None:
    from airflow.sdk import Asset

    ctx = run_context()
    summary = operator(emulator, state_root, advertiser_id=ADVERTISER_A).execute(ctx)
    extra = ctx["outlet_events"][Asset(uri=f"tiktok-audience://{ADVERTISER_A}/Operator%20test")].extra
    assert extra == {
        "mode": "mirror",
        "audience_id": summary["audience_id"],
        "added": 1200,
        "removed": 0,
        "audience_size": 1200,
        "audience_calls_left_today": 23,
    }
    assert len(emulator.state.audience_members(summary["audience_id"])) == 1200


@pytest.mark.integration
def test_an_audience_named_at_run_time_is_attached_through_the_alias(
    emulator: EmulatorServer, state_root: Path
) -> None:
    from airflow.sdk import AssetAlias

    first = operator(emulator, state_root).execute(run_context())  # the advertiser comes from the connection
    ctx = run_context()
    operator(emulator, state_root, members=emails(100, 1200)).execute(ctx)
    [event] = ctx["outlet_events"][AssetAlias(name=ASSET_ALIAS)].asset_alias_events
    assert event.dest_asset_key.uri == f"tiktok-audience://{ADVERTISER_A}/Operator%20test"
    assert event.extra == {
        "mode": "mirror",
        "audience_id": first["audience_id"],
        "added": 100,
        "removed": 100,
        "audience_size": 1200,
        "audience_calls_left_today": first["audience_calls_left_today"] - 1,  # one REPLACE, not APPEND + REMOVE
    }
