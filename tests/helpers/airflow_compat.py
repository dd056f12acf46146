"""Test-side names that moved between Airflow 3 minors (the provider's own code uses airflow_provider_tiktok.compat)."""

from __future__ import annotations

from typing import Any


def filesystem_registry() -> dict[str, Any]:
    """Airflow's scheme -> file-system factory registry (``airflow.sdk.io.fs`` from 3.1, ``airflow.io`` in 3.0)."""
    try:
        from airflow.sdk.io import fs
    except ImportError:  # Airflow 3.0
        import airflow.io as fs  # type: ignore[no-redef]
    registry: dict[str, Any] = fs._register_filesystems()
    return registry


def dag_bag_class() -> Any:
    """``DagBag`` (``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models.dagbag`` before)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


def core_timetable(timetable: Any) -> Any:
    """The core timetable a DAG's SDK timetable stands for (3.1+ coerce it; in 3.0 the DAG holds the core one)."""
    try:
        from airflow.serialization.encoders import coerce_to_core_timetable
    except ImportError:  # Airflow 3.0
        return timetable
    return coerce_to_core_timetable(timetable)
