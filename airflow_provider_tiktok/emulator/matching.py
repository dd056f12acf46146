"""Which customer-file ids "match" a TikTok user: a deterministic rule with a settable rate.

TikTok counts an audience's size (``cover_num``) in matched users only, and judges the 1,000-user minimum
of ``dmp/custom_audience/update/`` on that count (dmp_custom_audience_update.yml). The emulator decides
a match from the id alone: an id matches when the first 8 hex digits of SHA-256(id), read as a fraction of
2**32, fall below ``settings.match_rate``. At 1.0 (the default) every id matches, so counts equal the ids
uploaded; at 0.6 about 60 % do, and always the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

_SCALE = 2**32


def matches(hashed_id: str, rate: float) -> bool:
    """Whether ``hashed_id`` (as stored: lower-case hex) matches a TikTok user at ``rate``."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    return int(hashlib.sha256(hashed_id.encode()).hexdigest()[:8], 16) / _SCALE < rate


def matched_count(ids: Collection[str], rate: float) -> int:
    """How many of ``ids`` match at ``rate`` (no hashing at all at 1.0 or 0)."""
    if rate >= 1:
        return len(ids)
    if rate <= 0:
        return 0
    return sum(1 for hashed_id in ids if matches(hashed_id, rate))
