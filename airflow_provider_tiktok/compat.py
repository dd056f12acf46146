"""The one seam through which the provider imports Airflow: ``apache-airflow-providers-common-compat`` maps
each name to where the running Airflow 3 minor keeps it, so 3.0 through 3.3 import the same code."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowPlugin,
    AirflowSkipException,
    Asset,
    AssetAlias,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    Context,
    ObjectStoragePath,
    TaskDeferred,
    TaskInstanceKey,
    Variable,
    XCom,
    redact,
)

try:
    from airflow.providers.common.compat.sdk import mask_secret
except ImportError:  # common-compat before 1.23 (the newest release for Python 3.10) lacks it
    from airflow.sdk.log import mask_secret


def connection_hook(conn_id: str) -> Any:
    """The hook an Airflow connection's type provides (e.g. a common.sql hook for a SQL connection)."""
    return BaseHook.get_connection(conn_id).get_hook()  # type: ignore[no-untyped-call]


def airflow_config(section: str, key: str, fallback: str) -> str:
    """One Airflow configuration value (``airflow.cfg`` or ``AIRFLOW__<SECTION>__<KEY>``), else ``fallback``."""
    from airflow.providers.common.compat.sdk import conf

    return str(conf.get(section, key, fallback=fallback))


def airflow_minor() -> tuple[int, int]:
    """The running Airflow's (major, minor): plugin UI entries exist from 3.1 on."""
    from airflow.providers.common.compat.version_compat import get_base_airflow_version_tuple

    major, minor, _ = get_base_airflow_version_tuple()
    return major, minor


@dataclass(frozen=True)
class ApiServer:
    """What the monitoring page uses inside Airflow's API server: metadata models, a session, the auth checks."""

    create_session: Any
    AssetEvent: Any
    AssetModel: Any
    Connection: Any
    DagRun: Any
    TaskInstance: Any
    Trigger: Any
    XComModel: Any
    requires_access_asset: Any
    requires_access_dag: Any


@functools.cache
def api_server() -> ApiServer:
    """The API server's names, imported on first use only: task processes load plugins too, never these.
    Their paths are the same on Airflow 3.0 through 3.3."""
    from airflow.api_fastapi.core_api.security import requires_access_asset, requires_access_dag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.connection import Connection
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    return ApiServer(
        create_session=create_session,
        AssetEvent=AssetEvent,
        AssetModel=AssetModel,
        Connection=Connection,
        DagRun=DagRun,
        TaskInstance=TaskInstance,
        Trigger=Trigger,
        XComModel=XComModel,
        requires_access_asset=requires_access_asset,
        requires_access_dag=requires_access_dag,
    )


__all__ = [
    "AirflowFailException",
    "AirflowPlugin",
    "AirflowSkipException",
    "ApiServer",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "Context",
    "ObjectStoragePath",
    "TaskDeferred",
    "TaskInstanceKey",
    "Variable",
    "XCom",
    "airflow_config",
    "airflow_minor",
    "api_server",
    "connection_hook",
    "mask_secret",
    "redact",
]
