from datetime import date
from decimal import Decimal

from arrears.interest import late_payment_claim
from arrears.policy.model import LatePayment

EU = LatePayment(annual_rate_percent=Decimal("10.15"), basis="2011/7/EU", fixed_compensation={"EUR": 4000})


def test_simple_daily_interest_from_the_day_after_due():
    # Given EUR 1,250.00 due on 1 October 2026, claimed on 31 October (30 days late) at 10.15 %
    claim = late_payment_claim(EU, 125_000, "EUR", date(2026, 10, 1), date(2026, 10, 31))
    # Then interest is 1250 x 10.15 % x 30 / 365 = 10.4281 -> EUR 10.43, plus EUR 40 compensation
    assert claim is not None
    assert (claim.days, claim.interest_minor, claim.compensation_minor) == (30, 1043, 4000)
    assert claim.from_date == date(2026, 10, 2) and claim.total_minor == 5043


def test_nothing_is_claimed_before_the_due_date_or_when_not_claiming():
    assert late_payment_claim(EU, 125_000, "EUR", date(2026, 10, 1), date(2026, 10, 1)) is None
    off = EU.model_copy(update={"claim": False})
    assert late_payment_claim(off, 125_000, "EUR", date(2026, 10, 1), date(2026, 12, 1)) is None


def test_zero_decimal_currencies_round_to_whole_units():
    # JPY has no minor unit: 100,000 yen x 10.15 % x 10 / 365 = 278.08 -> 278
    claim = late_payment_claim(EU, 100_000, "JPY", date(2026, 10, 1), date(2026, 10, 11))
    assert claim is not None and claim.interest_minor == 278 and claim.compensation_minor == 0
