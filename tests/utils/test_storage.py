"""Local folders the provider creates are owner-only, every missing parent included."""

from __future__ import annotations

import stat

import pytest

from airflow_provider_tiktok.utils.storage import ensure_dir

pytestmark = pytest.mark.unit


def test_every_missing_parent_is_created_owner_only(tmp_path):
    tmp_path.chmod(0o755)
    target = tmp_path / "tiktok" / "state" / "events" / "dag_id"
    ensure_dir(target)
    created = [tmp_path / "tiktok", tmp_path / "tiktok" / "state", tmp_path / "tiktok" / "state" / "events", target]
    assert [stat.S_IMODE(folder.stat().st_mode) for folder in created] == [0o700] * 4
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # folders that already existed are left alone
    ensure_dir(target)  # idempotent
