"""When a debtor may be contacted: business days, public holidays and contact hours, in their zone.

The policy's `business_days` are read for a country that rests on Saturday and Sunday; a debtor whose
country rests on other days (the `holidays` package's weekend: Friday and Saturday in Egypt or Saudi
Arabia, Friday in Iran) has that weekend instead (`working_days`).

Pure and cached. A contact that would fall outside these moves forward to the
next allowed moment; it never vanishes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arrears.domain.policy.model import ContactCalendar

# Far more than any run of weekends and holidays; a calendar with no business day at all is refused by the model.
_MAX_DAYS_AHEAD = 60


def zone_of(name: str, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def _country_holidays(country: str, **options: object):  # -> holidays.HolidayBase
    import holidays  # lazily, at the first calendar look-up: not part of a handler's cold start (issue #19)

    return holidays.country_holidays(country.upper(), **options)


@lru_cache(maxsize=512)
def _holidays(country: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    try:
        return frozenset(_country_holidays(country, years=year))
    except NotImplementedError:
        return frozenset()  # a country the holidays package does not know: weekends only


_SATURDAY_SUNDAY = frozenset({6, 7})


@lru_cache(maxsize=256)
def _weekend(country: str) -> frozenset[int]:
    """The ISO weekdays the country rests (the holidays package: Egypt Friday and Saturday, Iran Friday)."""
    if not country:
        return _SATURDAY_SUNDAY
    try:
        rest = _country_holidays(country).weekend
    except NotImplementedError:
        return _SATURDAY_SUNDAY
    return frozenset(day + 1 for day in rest)  # the package counts Monday as 0


@lru_cache(maxsize=1024)
def working_days(calendar: ContactCalendar, country: str) -> frozenset[int]:
    """The debtor's business weekdays: the policy's `business_days`, with the debtor country's weekend in place of
    Saturday and Sunday (a day off the policy takes besides the weekend stays off)."""
    if _weekend(country) == _SATURDAY_SUNDAY:
        return calendar.business_days
    off_besides_weekend = frozenset(range(1, 8)) - calendar.business_days - _SATURDAY_SUNDAY
    days = frozenset(range(1, 8)) - _weekend(country) - off_besides_weekend
    return days or calendar.business_days  # a week with no day left: the policy's own days


def is_business_day(day: date, calendar: ContactCalendar, country: str) -> bool:
    if day.isoweekday() not in working_days(calendar, country):
        return False
    return not (calendar.observe_public_holidays and day in _holidays(country, day.year))


def next_business_day(day: date, calendar: ContactCalendar, country: str) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    for _ in range(_MAX_DAYS_AHEAD):
        if is_business_day(day, calendar, country):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no business day within {_MAX_DAYS_AHEAD} days of {day} for {country or 'no country'}")


def next_allowed_moment(moment: datetime, calendar: ContactCalendar, zone: ZoneInfo, country: str) -> datetime:
    """The earliest moment at or after `moment` inside contact hours on a business day (aware UTC)."""
    local = moment.astimezone(zone)
    if is_business_day(local.date(), calendar, country) and \
            calendar.contact_hours_start <= local.time() <= calendar.contact_hours_end:
        return moment.astimezone(timezone.utc)
    day = local.date() if local.time() < calendar.contact_hours_start else local.date() + timedelta(days=1)
    opening = datetime.combine(next_business_day(day, calendar, country), calendar.contact_hours_start, tzinfo=zone)
    return opening.astimezone(timezone.utc)


# A message held back until a moment less than this after the contact time goes at that moment: a send a few
# seconds late must not cost the message behind it a day.
_LATE_SEND = timedelta(hours=1)


def deferred_moment(earliest: datetime, at: time, calendar: ContactCalendar, zone: ZoneInfo, country: str) -> datetime:
    """When a message held back until `earliest` (the customer's gap) goes: at the policy's contact time `at` on the
    debtor's first business day from then, where the invoice's own next step is planned too (so a stale step is
    superseded by it, not sent an hour before it), not at the opening of contact hours."""
    local = (earliest - _LATE_SEND).astimezone(zone)
    day = local.date() if local.time() <= at else local.date() + timedelta(days=1)
    return max(contact_moment(day, at, calendar, zone, country), earliest.astimezone(timezone.utc))


def contact_moment(day: date, at: time, calendar: ContactCalendar, zone: ZoneInfo, country: str) -> datetime:
    """A step planned for `day` at `at`: moved to the next business day, at `at` (inside contact hours)."""
    return datetime.combine(next_business_day(day, calendar, country), at, tzinfo=zone).astimezone(timezone.utc)


def call_window(moment: datetime, calendar: ContactCalendar, zone: ZoneInfo, country: str) -> dict[str, str]:
    """When a person may call the debtor, from `moment` on: the contact hours of the first business day on
    which the debtor may still be contacted, in the debtor's local time and as UTC instants (for a call task)."""
    from arrears.domain.clock import to_iso_z

    day = next_allowed_moment(moment, calendar, zone, country).astimezone(zone).date()
    start = datetime.combine(day, calendar.contact_hours_start, tzinfo=zone)
    end = datetime.combine(day, calendar.contact_hours_end, tzinfo=zone)
    return {"timezone": zone.key, "date": day.isoformat(), "local_start": calendar.contact_hours_start.strftime("%H:%M"),
            "local_end": calendar.contact_hours_end.strftime("%H:%M"), "start_utc": to_iso_z(start), "end_utc": to_iso_z(end)}
