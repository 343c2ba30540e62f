"""Never harass: contacts only on the debtor's business days and inside contact hours, in their zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from arrears.domain.policy import ContactCalendar, plan_steps
from arrears.domain.policy.calendar import _holidays, is_business_day, next_allowed_moment

WEEKDAYS = ContactCalendar()
COUNTRIES = {"GB": "Europe/London", "DE": "Europe/Berlin", "FR": "Europe/Paris", "US": "America/New_York",
             "NL": "Europe/Amsterdam", "AU": "Australia/Sydney", "JP": "Asia/Tokyo", "": "UTC"}
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(timezone.utc))


def test_a_step_on_christmas_moves_past_the_uk_holidays(default_policy):
    # Given an invoice due on Friday 18 December 2026 for a London debtor
    due = datetime(2026, 12, 18, 12, tzinfo=timezone.utc)
    planned = {p.step.id: p.at for p in plan_steps(default_policy, "standard", due, "Europe/London", "GB")}
    # Then the +7 reminder (nominally Christmas Day) moves past the substitute Boxing Day holiday to Tuesday 29th
    assert planned["overdue_7"] == datetime(2026, 12, 29, 10, tzinfo=timezone.utc)
    # And the +15 reminder (nominally Saturday 2 January) goes out on Monday 4 January
    assert planned["overdue_15"] == datetime(2027, 1, 4, 10, tzinfo=timezone.utc)


def test_holidays_are_the_debtors_countrys():
    # 3 October is German Unity Day: a holiday in Berlin, a business day in London
    assert not is_business_day(date(2028, 10, 3), WEEKDAYS, "DE")
    assert is_business_day(date(2028, 10, 3), WEEKDAYS, "GB")
    assert _holidays("XX", 2028) == frozenset()  # an unknown country: weekends only


def test_a_contact_due_in_the_evening_waits_for_the_next_morning():
    calendar = ContactCalendar(contact_hours_start=time(9), contact_hours_end=time(17, 30))
    # Friday 20 November 2026, 19:00 in New York -> Monday 23 November, 09:00 New York
    evening = datetime(2026, 11, 21, 0, tzinfo=timezone.utc)
    assert next_allowed_moment(evening, calendar, ZoneInfo("America/New_York"), "US") == \
        datetime(2026, 11, 23, 14, tzinfo=timezone.utc)
    # Inside contact hours on a business day, nothing moves
    noon = datetime(2026, 11, 20, 17, tzinfo=timezone.utc)
    assert next_allowed_moment(noon, calendar, ZoneInfo("America/New_York"), "US") == noon


@pytest.mark.parametrize("changes, message", [
    ({"business_days": []}, "at least one weekday"),
    ({"business_days": ["mon", "funday"]}, "unknown weekdays"),
    ({"contact_hours_start": time(18), "contact_hours_end": time(9)}, "before contact_hours_end"),
])
def test_a_bad_calendar_is_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        ContactCalendar(**changes)


def test_contact_time_must_lie_inside_contact_hours(default_policy):
    with pytest.raises(ValidationError, match="outside the calendar's contact hours"):
        type(default_policy).model_validate({**default_policy.model_dump(), "contact_time": time(7, 30)})


@settings(max_examples=300, deadline=None)
@given(due=moments, country=st.sampled_from(sorted(COUNTRIES)))
def test_every_planned_contact_is_on_a_business_day_at_contact_time(default_policy, due, country):
    zone = ZoneInfo(COUNTRIES[country])
    planned = plan_steps(default_policy, "standard", due, COUNTRIES[country], country)
    due_day = due.astimezone(zone).date()
    for p in planned:
        local = p.at.astimezone(zone)
        assert is_business_day(local.date(), default_policy.calendar, country)
        assert local.time() == default_policy.contact_time
        # A step moves later, never earlier, and never past a week of holidays and weekends
        nominal = due_day + timedelta(days=p.step.offset_days)
        assert nominal <= local.date() <= nominal + timedelta(days=7)
    assert [p.at for p in planned] == sorted(p.at for p in planned)
    assert [p.step.id for p in planned] == [s.id for s in default_policy.segment_for("standard").steps]


@settings(max_examples=300, deadline=None)
@given(moment=moments, country=st.sampled_from(sorted(COUNTRIES)))
def test_next_allowed_moment_is_allowed_and_never_earlier(moment, country):
    zone = ZoneInfo(COUNTRIES[country])
    allowed = next_allowed_moment(moment, WEEKDAYS, zone, country)
    local = allowed.astimezone(zone)
    assert allowed >= moment
    assert is_business_day(local.date(), WEEKDAYS, country)
    assert WEEKDAYS.contact_hours_start <= local.time() <= WEEKDAYS.contact_hours_end
    # And it is the earliest such moment: it is the moment itself, or an opening of contact hours
    assert allowed == moment or local.time() == WEEKDAYS.contact_hours_start


def test_a_debtor_whose_country_rests_friday_and_saturday_is_contacted_sunday_to_thursday(default_policy):
    # Given a Cairo debtor (Egypt rests on Friday and Saturday) and the default Monday-to-Friday policy
    # When its invoice falls due on Friday 2 October 2026
    due = datetime(2026, 10, 2, 12, tzinfo=timezone.utc)
    planned = {p.step.id: p.at.astimezone(ZoneInfo("Africa/Cairo")) for p in plan_steps(default_policy, "standard", due, "Africa/Cairo", "EG")}
    # Then the due notice waits for Sunday 4 October, the first day of the Egyptian week (not Friday, nor Monday)
    assert planned["due_notice"].date() == date(2026, 10, 4)
    # And no step of the ladder falls on an Egyptian weekend
    assert all(at.isoweekday() not in (5, 6) for at in planned.values())
    # While a London debtor keeps the policy's own days
    assert not is_business_day(date(2026, 10, 4), WEEKDAYS, "GB") and is_business_day(date(2026, 10, 2), WEEKDAYS, "GB")


def test_a_day_the_policy_takes_off_besides_the_weekend_stays_off_in_another_week():
    # A Monday-to-Thursday policy: Friday off besides the weekend. In Egypt Friday is the weekend anyway,
    # and Sunday is a working day; in Iran (weekend: Friday) Saturday and Sunday are working days.
    four_days = ContactCalendar(business_days=["mon", "tue", "wed", "thu"])
    sunday, saturday = date(2026, 10, 4), date(2026, 10, 3)
    assert is_business_day(sunday, four_days, "EG") and not is_business_day(saturday, four_days, "EG")
    assert is_business_day(saturday, four_days, "IR") and not is_business_day(date(2026, 10, 2), four_days, "IR")
    # A policy that works Saturdays keeps them where the weekend is Saturday and Sunday
    six_days = ContactCalendar(business_days=["mon", "tue", "wed", "thu", "fri", "sat"])
    assert is_business_day(saturday, six_days, "GB")
