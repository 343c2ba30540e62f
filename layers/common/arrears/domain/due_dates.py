"""How a due date is read (domain, pure): a day is due until the end of that day where the debtor is.

Billing systems that know only a day send "2026-10-01", or write the day as midnight UTC
("2026-10-01T00:00:00Z"). Read as that instant, a US debtor's day would be the day before (19:00 on
30 September in New York), and its due notice a day early. So a due date that is a day, either way, is
due until 23:59:59 of that day in the debtor's zone; a due date with a time of day is that moment.
A debtor whose zone is not known yet (the policy's default zone will apply) gets 12:00 UTC of that day:
the same date in every zone from UTC-11 to UTC+11. docs/time-and-calendars.md says the same.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

END_OF_DAY = time(23, 59, 59)
_UNKNOWN_ZONE_HOUR = time(12, 0)


def is_a_day(value: date | datetime) -> bool:
    """A date, or a moment at exactly midnight UTC (how date-only systems write a day)."""
    if not isinstance(value, datetime):
        return True
    return value.utcoffset() == timedelta(0) and value.time() == time(0)


def due_moment(value: date | datetime, debtor_timezone: str) -> datetime:
    """The moment a due date passes for the debtor (aware UTC); see the module docstring."""
    if not is_a_day(value):
        assert isinstance(value, datetime)
        return value.astimezone(timezone.utc)
    day = value.date() if isinstance(value, datetime) else value
    try:
        zone = ZoneInfo(debtor_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.combine(day, _UNKNOWN_ZONE_HOUR, tzinfo=timezone.utc)
    return datetime.combine(day, END_OF_DAY, tzinfo=zone).astimezone(timezone.utc)
