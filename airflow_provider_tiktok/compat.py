"""The one seam through which the provider imports Airflow: ``apache-airflow-providers-common-compat`` maps
each name to where the running Airflow 3 minor keeps it, so 3.0 through 3.3 import the same code."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
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


__all__ = [
    "AirflowFailException",
    "AirflowSkipException",
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
    "connection_hook",
    "mask_secret",
    "redact",
]
