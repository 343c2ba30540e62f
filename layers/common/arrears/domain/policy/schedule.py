"""When each step of a policy falls for one invoice: pure, no I/O.

A step falls on (due date in the debtor's timezone + offset days) at the
policy's contact time, local to the debtor; a day that is not one of the
debtor's business days (weekend or public holiday in their country) moves the
step to the next business day. The workflow and the policy simulator both plan
with this function, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from arrears.domain.policy.calendar import contact_moment, zone_of
from arrears.domain.policy.model import Policy, Stage, Step


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    at: datetime  # aware UTC


def plan_steps(policy: Policy, segment: str, due_at: datetime, debtor_timezone: str, country: str = "",
               shift_days: int = 0) -> list[PlannedStep]:
    """Every step of the debtor's segment with its moment, in order (ties keep policy order).
    `shift_days` moves every step later (the days the invoice spent on hold)."""
    zone = zone_of(debtor_timezone, policy.default_timezone)
    due_local_date = due_at.astimezone(zone).date()
    planned = []
    for step in policy.segment_for(segment).steps:
        local_day = due_local_date + timedelta(days=step.offset_days + shift_days)
        at = contact_moment(local_day, policy.contact_time, policy.calendar, zone, country)
        planned.append(PlannedStep(step=step, at=at))
    return sorted(planned, key=lambda p: p.at)  # sorted() is stable: same-moment steps keep their order


def steps_to_skip_at_start(planned: list[PlannedStep], now: datetime) -> list[PlannedStep]:
    """Steps already past when collection starts (an invoice that reaches Arrears late).

    All of them are skipped except the latest past one, which is sent now so the
    debtor hears the message that fits the invoice's real age. A pre-due courtesy
    reminder is never sent late: it would arrive after the invoice itself.
    """
    past = [p for p in planned if p.at < now]
    if not past:
        return []
    latest_moment = past[-1].at
    catch_up = [p for p in past if p.at == latest_moment and p.step.stage is not Stage.COURTESY_REMINDER]
    return [p for p in past if p not in catch_up]
