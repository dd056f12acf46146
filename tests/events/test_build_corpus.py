"""Event building gives, on a fixed corpus of raw records, exactly the outcomes it gave before it was made
faster: the same events (hashes, normalised values, key order), the same derived event_ids (they changed once,
in 0.2.0, and must not change again), the same rejections with the same reasons and rejects-file copies, and
the same tallies. The expected outcomes were written by the provider as it was (``build_corpus``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.events.build_corpus import groups, outcomes

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "data" / "events" / "build_corpus.json"


def test_the_corpus_builds_exactly_as_before():
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    records = [record for _, group in groups() for record in group]
    actual = list(outcomes())
    assert len(actual) == len(expected) == 32
    assert sum(len(group["rows"]) for group in expected) == len(records)
    kinds = {row[0] for group in expected for row in group["rows"]}
    assert kinds == {"event", "rejected", "input error"}  # the corpus reaches every outcome
    n = 0
    for got, want in zip(actual, expected, strict=True):
        for row, (got_row, want_row) in enumerate(zip(got["rows"], want["rows"], strict=True), start=1):
            assert got_row == want_row, (got["source"], got["region"], row, records[n + row - 1])
        n += len(want["rows"])
        assert got == want
