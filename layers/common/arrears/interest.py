"""Statutory late-payment interest: simple daily interest on the unpaid balance.

Interest runs from the day after the due date up to and including `as_of`, at
`annual_rate_percent / day_count` per day, rounded half-up to minor units once
at the end (rounding per day would drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from arrears.money import decimal_to_minor, minor_to_decimal
from arrears.policy.model import LatePayment


@dataclass(frozen=True)
class InterestClaim:
    principal_minor: int
    annual_rate_percent: Decimal
    day_count: int
    from_date: date  # first day interest runs (the day after the due date)
    to_date: date  # last day counted
    days: int
    interest_minor: int
    compensation_minor: int
    basis: str

    @property
    def total_minor(self) -> int:
        return self.interest_minor + self.compensation_minor


def late_payment_claim(
    terms: LatePayment, balance_minor: int, currency: str, due_on: date, as_of: date
) -> InterestClaim | None:
    if not terms.claim or balance_minor <= 0 or as_of <= due_on:
        return None
    days = (as_of - due_on).days
    principal = minor_to_decimal(balance_minor, currency)
    interest = principal * terms.annual_rate_percent / Decimal(100) * Decimal(days) / Decimal(terms.day_count)
    return InterestClaim(
        principal_minor=balance_minor,
        annual_rate_percent=terms.annual_rate_percent,
        day_count=terms.day_count,
        from_date=date.fromordinal(due_on.toordinal() + 1),
        to_date=as_of,
        days=days,
        interest_minor=decimal_to_minor(interest, currency),
        compensation_minor=terms.fixed_compensation.get(currency, 0),
        basis=terms.basis,
    )
