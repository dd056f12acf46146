"""The upload's identifier caches (``BuildTally``) give what the uncached functions give: the same hash, the
same refusal with the same reason every time a value repeats, and no answer carried from one value to another
that merely compares equal (``7`` and ``7.0``); they stay bounded."""

from __future__ import annotations

import pytest

from airflow_provider_tiktok.events import rules
from airflow_provider_tiktok.events.rules import BuildTally
from airflow_provider_tiktok.utils.hashing import InvalidIdentifier, hash_email, hash_external_id, hash_phone

pytestmark = pytest.mark.unit


def reason(function, *args) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        function(*args)
    return f"{info.value.field}: {info.value.reason}"


@pytest.mark.parametrize(
    ("method", "function", "args"),
    [
        ("hash_phone", hash_phone, ("555-0199", "US")),
        ("hash_phone", hash_phone, ("901820", "DE")),
        ("hash_email", hash_email, ("a@example.com; b@example.org",)),
        ("hash_external_id", hash_external_id, ("cust-42'",)),
    ],
)
def test_a_refusal_is_given_again_with_its_reason(method, function, args):
    tally = BuildTally()
    expected = reason(function, *args)
    assert [reason(getattr(tally, method), *args) for _ in range(3)] == [expected] * 3
    assert len(tally.refusals) == 1


def test_hashes_are_given_again_and_remembered_by_text():
    tally = BuildTally()
    assert tally.hash_email(" Pat@Example.com") == tally.hash_email(" Pat@Example.com") == hash_email("pat@example.com")
    assert tally.hash_external_id("cust-7") == hash_external_id("cust-7")
    assert tally.hash_phone("030 12345678", "DE") == hash_phone("+493012345678")
    assert (len(tally.email_hashes), len(tally.external_id_hashes), len(tally.phone_hashes)) == (1, 1, 1)


def test_equal_values_of_another_type_are_not_answered_from_the_cache():
    tally = BuildTally()
    assert tally.hash_external_id("7") == hash_external_id("7")
    assert tally.hash_external_id(7) == hash_external_id(7)  # a whole number is an id too...
    assert reason(tally.hash_external_id, 7.0) == "external_id: must be text"  # ...a float is not, cache or not
    assert not tally.external_id_hashes.keys() - {"7"}


def test_the_caches_are_bounded(monkeypatch):
    monkeypatch.setattr(rules, "IDENTIFIER_CACHE_SIZE", 3)
    tally = BuildTally()
    for n in range(10):
        tally.hash_email(f"pat{n}@example.com")
        with pytest.raises(InvalidIdentifier):
            tally.hash_email(f"pat{n}")
    assert len(tally.email_hashes) <= 3
    assert len(tally.refusals) <= 3


def test_ip_addresses_are_remembered_with_their_standard_form_or_none():
    from airflow_provider_tiktok.events.build import _ip_address
    from airflow_provider_tiktok.events.values import as_ip

    tally = BuildTally()
    given = ["198.51.100.7", "2001:0db8:0000:0000:0000:0000:0000:0001", "300.1.1.1", "localhost", 7]
    for value in given * 2:
        assert _ip_address(value, tally) == as_ip(value)
    assert tally.ip_addresses == {text: as_ip(text) for text in given if isinstance(text, str)}
