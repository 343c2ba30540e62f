"""Late-payment interest: simple daily interest on the unpaid balance, at a contractual rate or by statute.

Interest runs from the day after the due date up to and including `as_of`, at
`annual rate / day_count` per day on the principal unpaid that day. The claim is cut into periods
of one rate and one principal; each period is rounded half-up to minor units once (so the periods a
letter prints add up to the interest it claims; rounding per day would drift).

A partial payment lowers the principal from the day it was received. Without a payment history the
current balance is taken as the principal throughout (never more than is owed).

Statutory schemes (`LatePayment.scheme`), their reference rates read from
`templates/rates/reference_rates.yaml` (versioned by the date each rate took effect, a source per row):

- `de_bgb_288` - Germany, § 288 Abs. 2 BGB: the Basiszinssatz (§ 247 BGB) plus 9 percentage points
  for claims where no consumer is involved; the Basiszinssatz changes on 1 January and 1 July
  (§ 247 Abs. 1 BGB; published by the Bundesbank), so a claim spanning 1 July is computed at each
  half-year's rate. Flat fee EUR 40 (§ 288 Abs. 5 BGB).
  https://www.gesetze-im-internet.de/bgb/__288.html, https://www.gesetze-im-internet.de/bgb/__247.html
- `fr_l441_10` - France, Code de commerce art. L441-10 II: the ECB rate for its most recent main
  refinancing operation plus 10 points; for the first half-year the rate in force on 1 January, for
  the second the rate in force on 1 July. Indemnité forfaitaire EUR 40 (art. D441-5).
  https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000038414392
- `eu_2011_7` - Directive 2011/7/EU art. 2 (definitions of "statutory interest" and "reference rate")
  and art. 3: the ECB main refinancing rate in force on 1 January for the first half-year and on
  1 July for the second, plus 8 points; EUR 40 (art. 6). For euro-area member states whose law
  follows the directive's minimum (others use their central bank's rate: not tabled here).
  https://eur-lex.europa.eu/eli/dir/2011/7/oj
- `uk_late_payment_act` - UK, Late Payment of Commercial Debts (Interest) Act 1998 with the
  Late Payment of Commercial Debts (Rate of Interest) (No. 3) Order 2002, art. 4: Bank of England
  Bank Rate in force on 30 June (for interest that starts to run from 1 July to 31 December) or
  31 December (for interest that starts to run from 1 January to 30 June) immediately before the day
  interest starts to run, plus 8 points; that rate then applies for the life of the debt (no
  half-year change). Fixed sum by the size of the debt (s. 5A): GBP 40 below GBP 1,000, GBP 70 below
  GBP 10,000, GBP 100 from GBP 10,000. https://www.legislation.gov.uk/uksi/2002/1675/article/4,
  https://www.legislation.gov.uk/ukpga/1998/20/section/5A
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from arrears.domain.money import decimal_to_minor, minor_to_decimal
from arrears.domain.policy.model import LatePayment
from arrears.domain.wording import wording_for

RATES_FILE = Path(__file__).resolve().parent.parent / "templates" / "rates" / "reference_rates.yaml"
CONTRACTUAL = "contractual"


class ReferenceRateUnknown(ValueError):
    """The rate table does not reach a day the claim needs: update the table rather than guess."""


@dataclass(frozen=True)
class Payment:
    """Money received towards the invoice on a day (the debtor's calendar day)."""

    on: date
    amount_minor: int


@dataclass(frozen=True)
class InterestPeriod:
    """Days of one annual rate on one principal."""

    from_date: date
    to_date: date  # inclusive
    principal_minor: int
    annual_rate_percent: Decimal
    reference_rate_percent: Decimal | None  # the statutory reference rate; None for a contractual rate
    interest_minor: int

    @property
    def days(self) -> int:
        return (self.to_date - self.from_date).days + 1


@dataclass(frozen=True)
class InterestClaim:
    periods: tuple[InterestPeriod, ...]  # consecutive, at least one
    day_count: int
    compensation_minor: int
    basis: str  # the legal or contractual basis, in English (notices put it in the debtor's language)
    scheme: str = CONTRACTUAL
    margin_points: Decimal | None = None  # points over the reference rate (statutory schemes)

    @property
    def from_date(self) -> date:  # first day interest runs (the day after the due date)
        return self.periods[0].from_date

    @property
    def to_date(self) -> date:  # last day counted
        return self.periods[-1].to_date

    @property
    def days(self) -> int:
        return (self.to_date - self.from_date).days + 1

    @property
    def principal_minor(self) -> int:
        """The principal interest runs on now (the unpaid balance on the last day counted)."""
        return self.periods[-1].principal_minor

    @property
    def annual_rate_percent(self) -> Decimal:
        """The rate running now (the last period's)."""
        return self.periods[-1].annual_rate_percent

    @property
    def interest_minor(self) -> int:
        return sum(period.interest_minor for period in self.periods)

    @property
    def total_minor(self) -> int:
        return self.interest_minor + self.compensation_minor


# -- statutory schemes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatutoryScheme:
    series: str  # in reference_rates.yaml
    margin_points: Decimal
    reference_on_eve: bool  # the rate in force the day before the half-year (UK) rather than on its first day
    fixed_for_life: bool  # the rate when interest starts to run applies throughout (UK)
    currency: str  # the currency the fixed compensation is set in


SCHEMES = {
    "de_bgb_288": StatutoryScheme("de_basiszinssatz", Decimal(9), False, False, "EUR"),
    "fr_l441_10": StatutoryScheme("ecb_mro", Decimal(10), False, False, "EUR"),
    "eu_2011_7": StatutoryScheme("ecb_mro", Decimal(8), False, False, "EUR"),
    "uk_late_payment_act": StatutoryScheme("boe_bank_rate", Decimal(8), True, True, "GBP"),
}


def statutory_compensation(scheme: str, principal_minor: int) -> int:
    """The fixed sum a scheme grants per invoice, in minor units of the scheme's currency."""
    if scheme == "uk_late_payment_act":  # s. 5A: by the size of the debt
        return 4000 if principal_minor < 100_000 else 7000 if principal_minor < 1_000_000 else 10_000
    return 4000  # EUR 40: § 288 Abs. 5 BGB, art. D441-5 Code de commerce, art. 6 Directive 2011/7/EU


@dataclass(frozen=True)
class RateSeries:
    starts: tuple[date, ...]
    percents: tuple[Decimal, ...]
    complete_through: date

    def in_force_on(self, day: date, series: str) -> Decimal:
        at = bisect.bisect_right(self.starts, day) - 1
        if at < 0 or day > self.complete_through:
            raise ReferenceRateUnknown(
                f"no {series} reference rate for {day.isoformat()} in {RATES_FILE.name} "
                f"(it covers {self.starts[0].isoformat()} to {self.complete_through.isoformat()}): add the official rate")
        return self.percents[at]


@lru_cache(maxsize=1)
def reference_rates() -> dict[str, RateSeries]:
    import yaml  # lazily: not part of a handler's cold start (issue #19)

    data = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    tables = {}
    for name, series in data.items():
        rows = sorted(series["rates"], key=lambda row: row["from"])
        tables[name] = RateSeries(starts=tuple(row["from"] for row in rows),
                                  percents=tuple(Decimal(row["percent"]) for row in rows),
                                  complete_through=series["complete_through"])
    return tables


def _half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def _next_half_year(day: date) -> date:
    return date(day.year, 7, 1) if day.month <= 6 else date(day.year + 1, 1, 1)


def statutory_reference_rate(scheme_id: str, day: date) -> Decimal:
    """The reference rate a scheme applies on `day` (before its fixed-for-life rule)."""
    scheme = SCHEMES[scheme_id]
    start = _half_year_start(day)
    reference_day = start - timedelta(days=1) if scheme.reference_on_eve else start
    return reference_rates()[scheme.series].in_force_on(reference_day, scheme.series)


# -- the claim -------------------------------------------------------------------------------------


def late_payment_claim(
    terms: LatePayment, balance_minor: int, currency: str, due_on: date, as_of: date,
    payments: Iterable[Payment] = (),
) -> InterestClaim | None:
    """Interest and fixed compensation on `balance_minor` (unpaid at `as_of`) of an invoice due on `due_on`.

    `payments`: what was received after the due date and up to `as_of`, if known; each lowers the
    principal from its day on (so the principal before it was the balance plus the payment).
    Raises ReferenceRateUnknown when a statutory rate table does not reach a day of the claim.
    """
    if not terms.claim or balance_minor <= 0 or as_of <= due_on:
        return None
    first_day = due_on + timedelta(days=1)
    received = sorted((p for p in payments if first_day <= p.on <= as_of and p.amount_minor > 0), key=lambda p: p.on)
    principal = balance_minor + sum(p.amount_minor for p in received)
    scheme = SCHEMES.get(terms.scheme)

    def rate_on(day: date) -> tuple[Decimal, Decimal | None]:
        if scheme is None:
            return terms.annual_rate_percent, None  # type: ignore[return-value]  # contractual: validated
        reference = statutory_reference_rate(terms.scheme, first_day if scheme.fixed_for_life else day)
        return reference + scheme.margin_points, reference

    # Days where the rate or the principal may change: half-year starts (statutory, unless fixed
    # for the life of the debt) and payment days.
    changes = {p.on for p in received}
    if scheme is not None and not scheme.fixed_for_life:
        boundary = _next_half_year(first_day)
        while boundary <= as_of:
            changes.add(boundary)
            boundary = _next_half_year(boundary)
    starts = [first_day, *sorted(day for day in changes if day > first_day)]
    paid_by: dict[date, int] = {}
    for payment in received:
        paid_by[payment.on] = paid_by.get(payment.on, 0) + payment.amount_minor

    periods: list[InterestPeriod] = []
    for index, start in enumerate(starts):
        principal -= paid_by.get(start, 0)
        end = starts[index + 1] - timedelta(days=1) if index + 1 < len(starts) else as_of
        rate, reference = rate_on(start)
        if periods and periods[-1].annual_rate_percent == rate and periods[-1].principal_minor == principal:
            start = periods.pop().from_date  # nothing changed at this boundary: one period, rounded once
        periods.append(_period(start, end, principal, rate, reference, terms.day_count, currency))

    if scheme is None:
        compensation = terms.fixed_compensation.get(currency, 0)
        basis = terms.basis
    else:
        initial = balance_minor + sum(p.amount_minor for p in received)
        default = statutory_compensation(terms.scheme, initial) if currency == scheme.currency else 0
        compensation = terms.fixed_compensation.get(currency, default)
        basis = terms.basis or wording_for("en")(f"interest.basis.{terms.scheme}")
    return InterestClaim(
        periods=tuple(periods), day_count=terms.day_count, compensation_minor=compensation, basis=basis,
        scheme=terms.scheme, margin_points=scheme.margin_points if scheme else None,
    )


def _period(start: date, end: date, principal_minor: int, rate: Decimal, reference: Decimal | None,
            day_count: int, currency: str) -> InterestPeriod:
    days = (end - start).days + 1
    interest = minor_to_decimal(principal_minor, currency) * rate / Decimal(100) * Decimal(days) / Decimal(day_count)
    return InterestPeriod(from_date=start, to_date=end, principal_minor=principal_minor, annual_rate_percent=rate,
                          reference_rate_percent=reference, interest_minor=decimal_to_minor(interest, currency))
