"""``may_hold_personal_data`` lets texts skip ``personal_data_in``: it must never say no to a text in which
``personal_data_in`` finds an e-mail address or a phone number. Seeded random texts made of the characters
both look at (digits of several scripts, phone punctuation, ``@``, ``%40``, letters), each checked as a plain
text, an event name (a bare number counts) and a URL (an e-mail may be %-encoded)."""

from __future__ import annotations

import random

import pytest

from airflow_provider_tiktok.utils.hashing import may_hold_personal_data, personal_data_in

pytestmark = pytest.mark.unit

PIECES = ["0", "1", "4", "5", "7", "9", "\u0665", "\uff13", " ", "-", ".", "(", ")", "/", "+", "\t", "\u00a0"]
PIECES += ["@", "%40", "a", "x", "com", ".de", "pat", "_", ":", "?", "=", "https://", "SO-", "415", "555", "2671"]


def test_no_text_personal_data_in_finds_is_waved_through():
    rng = random.Random(31)
    found = 0
    for _ in range(40_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14)))
        region = rng.choice(["US", "DE", "GB", "IN"])
        for bare_number, url in ((False, False), (True, False), (False, True)):
            if personal_data_in(text, region, bare_number=bare_number, url=url) is not None:
                found += 1
                assert may_hold_personal_data(text, url=url), (text, region, bare_number, url)
    assert found > 300  # the samples reach both answers


@pytest.mark.parametrize("text", ["SO-12345", "sku-42", "Mozilla/5.0", "v1.2.3", "ViewContent", "100% cotton"])
def test_ordinary_texts_skip_the_search(text):
    assert not may_hold_personal_data(text)
    assert personal_data_in(text, "US", bare_number=True, url=True) is None


@pytest.mark.parametrize(
    ("text", "url"), [("pat@example.com", False), ("?e=pat%40example.com", True), ("415 555 2671", False)]
)
def test_texts_that_may_hold_personal_data_are_searched(text, url):
    assert may_hold_personal_data(text, url=url)
