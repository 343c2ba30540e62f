"""Time comes from one port so the local runtime can move it.

In AWS the system clock is the truth. The local runtime moves the process clock
(time-machine) and the same `SystemClock` follows it; the policy simulator
passes its own `FixedClock`.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# Every date that enters (a billing event, a request) lies in these years: 9999-12-31 plus a grace period
# overflows date arithmetic, and year 1 is no one's due date (docs/input-limits.md).
FIRST_YEAR, LAST_YEAR = 1990, 2199


def plausible_date(value: date) -> date:
    """The date (or datetime) itself, or ValueError when it lies outside FIRST_YEAR..LAST_YEAR."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"a date between {FIRST_YEAR} and {LAST_YEAR}")
    return value


# Memoised (issue #19): the same moments are formatted and parsed again and again (a step's moment for its
# plan, claim, log entry and Wait); datetimes and strings are immutable, and equal aware datetimes are the
# same instant, so the same text. A naive datetime still raises each time (exceptions are not cached).
@lru_cache(maxsize=1 << 16)
def to_iso_z(moment: datetime) -> str:
    """ISO-8601 in UTC ending in Z, second precision: the form Step Functions Wait states need."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Arrears only handles timezone-aware times")
    utc = moment.astimezone(timezone.utc)
    if utc.year < 1000:  # strftime's %Y does not pad the year to four digits; isoformat does
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # isoformat is a third of strftime's cost, and this runs for every key, log entry and Wait timestamp.
    return utc.isoformat(timespec="seconds")[:19] + "Z"


@lru_cache(maxsize=1 << 16)
def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return moment.astimezone(timezone.utc)
