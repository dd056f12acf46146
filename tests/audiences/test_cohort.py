"""The cohort's hashing follows TikTok's customer-file normalisation, with the user's phone and +tag choices."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec, Cohort, hashed_lines
from airflow_provider_tiktok.exceptions import TikTokConfigError

pytestmark = pytest.mark.unit

ADVERTISER = "7000000000000000001"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hashes(spec: AudienceSyncSpec, values: list[str]) -> list[str]:
    rows = [(n, {spec.id_type: value}) for n, value in enumerate(values, start=1)]
    return [line.strip() for line in hashed_lines(rows, spec, Cohort(Path("unused")), io.StringIO())]


def test_phones_default_to_digits_with_the_country_code_and_e164_on_request():
    digits = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="phone", audience_name="A")
    assert hashes(digits, ["(657) 777-0000"]) == [sha("16577770000")]
    e164 = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="phone", audience_name="A", phone_format="e164")
    assert hashes(e164, ["(657) 777-0000"]) == [sha("+16577770000")]


def test_email_tags_are_removed_unless_kept():
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="email", audience_name="A")
    assert hashes(spec, [" Jo+News@Example.COM ", sha("x")]) == [sha("jo@example.com"), sha("x")]
    keep = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="email", audience_name="A", email_tag_rule="keep")
    assert hashes(keep, [" Jo+News@Example.COM "]) == [sha("jo+news@example.com")]


@pytest.mark.parametrize(("field", "value"), [("phone_format", "E.164"), ("email_tag_rule", "strip")])
def test_unknown_normalisation_choices_are_refused(field, value):
    with pytest.raises(TikTokConfigError, match=field):
        AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="email", audience_name="A", **{field: value})
