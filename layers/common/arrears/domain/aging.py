"""Aging buckets of receivables: how long past its due date an open invoice is. One rule for the finance
API's lists and reports and for a customer's statement of account (arrears.domain.consolidation)."""

from __future__ import annotations

from enum import Enum


class AgingBucket(str, Enum):
    CURRENT = "current"  # not yet due
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    OVER_90 = "90+"


# Inclusive days-past-due range of each bucket (None: unbounded).
BUCKET_DAYS: dict[AgingBucket, tuple[int | None, int | None]] = {
    AgingBucket.CURRENT: (None, 0),
    AgingBucket.DAYS_1_30: (1, 30),
    AgingBucket.DAYS_31_60: (31, 60),
    AgingBucket.DAYS_61_90: (61, 90),
    AgingBucket.OVER_90: (91, None),
}


def bucket_for_days(days_past_due: int) -> AgingBucket:
    """The bucket of an invoice `days_past_due` whole days after its due date (0 or less: current)."""
    for bucket, (low, high) in BUCKET_DAYS.items():
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return bucket
    raise AssertionError(days_past_due)  # the buckets cover every integer
