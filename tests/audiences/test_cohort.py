"""The cohort's hashing follows TikTok's customer-file normalisation, with the user's phone and +tag choices."""

from __future__ import annotations

import hashlib
import io
import json
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


def rejects_of(spec: AudienceSyncSpec, values: list[str]) -> tuple[list[str], list[dict]]:
    """The hashes of the valid members and the rejects entries of the others."""
    rows = [(n, {spec.id_type: value}) for n, value in enumerate(values, start=1)]
    out = io.StringIO()
    cohort = Cohort(Path("unused"))
    hashed = [line.strip() for line in hashed_lines(rows, spec, cohort, out)]
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert cohort.rejected == len(entries)
    return hashed, entries


# Issue 15, class 1: members wrapped the way exports wrap them.
def test_wrapped_email_members_are_unwrapped_with_the_customer_file_rules():
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="email", audience_name="A")
    wrapped = [
        "mailto:Jo+News@Example.COM",
        '"jo@example.com"',
        "Jo Doe <jo+shop@example.com>",
        "\u201cjo@example.com\u201d",
        "<mailto:jo@example.com>",
    ]
    hashed, entries = rejects_of(spec, wrapped)
    assert hashed == [sha("jo@example.com")] * len(wrapped)
    assert entries == []


def test_ambiguously_wrapped_members_are_rejected_naming_the_shape():
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="email", audience_name="A")
    values = ["jo@example.com; al@example.org", "al@example.org <jo@example.com>", '"jo@example.com', "ok@example.com"]
    hashed, entries = rejects_of(spec, values)
    assert hashed == [sha("ok@example.com")]
    assert [(e["row"], e["field"]) for e in entries] == [(1, "email"), (2, "email"), (3, "email")]
    assert entries[0]["reason"].startswith("holds more than one e-mail address (a list?)")
    assert entries[1]["reason"] == "holds two different e-mail addresses"
    assert entries[2]["reason"].startswith("has an unbalanced quote")
    assert "example" not in json.dumps(entries)


def test_wrapped_phone_members_are_unwrapped():
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="phone", audience_name="A")
    hashed, entries = rejects_of(spec, ["tel:+1-657-777-0000", '"(657) 777-0000"', "'+16577770000"])
    assert hashed == [sha("16577770000")] * 3
    assert entries == []


# Issue 15, class 2: a member phone only possible in its region is rejected, never hashed as a made-up number.
@pytest.mark.parametrize(
    ("region", "raw", "reason"),
    [
        ("US", "555-0199", "is not a valid number for region US (a local number without its area code?)"),
        ("US", "(415) 123-4567", "is not a valid number for region US"),
        ("DE", "901820", "is not a valid number for region DE"),
        ("DE", "+49 123456", "is not a valid number for region DE"),
    ],
)
def test_phone_members_not_valid_in_their_region_are_rejected(region, raw, reason):
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER, id_type="phone", audience_name="A", default_phone_region=region)
    good = "(657) 777-0000" if region == "US" else "030 901820"
    hashed, entries = rejects_of(spec, [good, raw])
    assert len(hashed) == 1
    assert [(e["row"], e["field"]) for e in entries] == [(2, "phone")]
    assert entries[0]["reason"].startswith(reason)
