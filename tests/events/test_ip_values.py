"""IP addresses are sent in one spelling on every Python: the payload, and the event_id derived from it, must not
change with the interpreter (Python 3.13 spells IPv4-mapped IPv6 addresses differently from 3.10-3.12)."""

from __future__ import annotations

import pytest

from airflow_provider_tiktok.events.values import as_ip

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:198.51.100.7", "198.51.100.7"),
        ("0:0:0:0:0:ffff:c633:6407", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::1", "::1"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),  # NAT64, not mapped: stays IPv6, spelled alike on every Python
    ],
)
def test_addresses_have_one_spelling(given, sent):
    assert as_ip(given) == sent


@pytest.mark.parametrize("given", ["300.1.1.1", "localhost", "::ffff:300.1.1.1", ""])
def test_non_addresses_are_none(given):
    assert as_ip(given) is None
