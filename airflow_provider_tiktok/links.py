"""The one extra link of the provider's operators: a button that opens the user's own TikTok Ads Manager page."""

from __future__ import annotations

import attrs

from airflow_provider_tiktok.compat import BaseOperator, BaseOperatorLink, TaskInstanceKey, XCom

#: The XCom key under which each task pushes its link's URL (it knows the advertiser only at run time).
XCOM_LINK_KEY = "tiktok_link_url"


@attrs.define
class TikTokLink(BaseOperatorLink):
    """Opens the TikTok page the task pushed to XCom; ``name`` is the button's label.

    The link costs no API call: the task pushes the URL it already knows, the button reads it back.
    """

    name: str

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed, or nothing before it ran."""
        return XCom.get_value(ti_key=ti_key, key=XCOM_LINK_KEY) or ""
