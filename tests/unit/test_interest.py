"""Late-payment interest: contractual and statutory, worked examples computed by hand in each test.

Sources of the rules (see arrears.domain.interest's docstring for the full citations):
- Germany: § 288 Abs. 2 and 5 BGB (base rate + 9 points, EUR 40), § 247 BGB (the base rate changes on
  1 January and 1 July by the change of the ECB main refinancing rate since its last change).
- France: Code de commerce art. L441-10 II (ECB rate in force on 1 January / 1 July + 10 points), D441-5 (EUR 40).
- UK: Late Payment of Commercial Debts (Rate of Interest) (No. 3) Order 2002 art. 4 (Bank Rate on 31 December /
  30 June before interest starts to run + 8 points, for the life of the debt); Act s. 5A (GBP 40 / 70 / 100).
- EU: Directive 2011/7/EU art. 2 and 3 (ECB rate on 1 January / 1 July + 8 points), art. 6 (EUR 40).
The reference rates come from templates/rates/reference_rates.yaml; rows not yet checked against the official
source are marked there (see test_the_rate_table_covers_2023_to_2026_with_a_source_for_every_row).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from arrears.domain.interest import (
    SCHEMES,
    Payment,
    ReferenceRateUnknown,
    late_payment_claim,
    reference_rates,
    statutory_compensation,
    statutory_reference_rate,
)
from arrears.domain.policy.model import LatePayment

EU = LatePayment(annual_rate_percent=Decimal("10.15"), basis="2011/7/EU", fixed_compensation={"EUR": 4000})
GERMANY = LatePayment(scheme="de_bgb_288")
FRANCE = LatePayment(scheme="fr_l441_10")
UK = LatePayment(scheme="uk_late_payment_act")


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


# -- statutory schemes: worked examples --------------------------------------------------------------


def test_germany_a_claim_over_1_july_is_computed_at_each_half_years_base_rate():
    # Given EUR 1,250.00 due on 15 June 2025 and still unpaid on 20 July 2025, under § 288 Abs. 2 BGB.
    # The base rate was 2.27 % from 1 January 2025 and 1.27 % from 1 July 2025 (Bundesbank).
    claim = late_payment_claim(GERMANY, 125_000, "EUR", date(2025, 6, 15), date(2025, 7, 20))

    # Then interest runs in two periods, each at base rate + 9 points, each rounded once:
    #   16-30 June 2025, 15 days at 11.27 %: 1250 x 11.27 % x 15 / 365 = 5.7894 -> EUR 5.79
    #   1-20 July 2025,  20 days at 10.27 %: 1250 x 10.27 % x 20 / 365 = 7.0342 -> EUR 7.03
    #   interest EUR 12.82, plus the EUR 40 flat fee of § 288 Abs. 5 BGB
    assert claim is not None
    assert [(p.from_date, p.to_date, p.days, p.annual_rate_percent, p.reference_rate_percent, p.interest_minor)
            for p in claim.periods] == [
        (date(2025, 6, 16), date(2025, 6, 30), 15, Decimal("11.27"), Decimal("2.27"), 579),
        (date(2025, 7, 1), date(2025, 7, 20), 20, Decimal("10.27"), Decimal("1.27"), 703),
    ]
    assert (claim.interest_minor, claim.compensation_minor, claim.total_minor) == (1282, 4000, 5282)
    assert (claim.days, claim.margin_points, claim.scheme) == (35, Decimal(9), "de_bgb_288")


def test_germany_a_partial_payment_lowers_the_principal_from_its_day():
    # Given EUR 10,000.00 due on 31 January 2025, EUR 4,000.00 received on 2 March 2025, EUR 6,000.00
    # still open on 31 March 2025 (base rate 2.27 % all along, so 11.27 %)
    claim = late_payment_claim(GERMANY, 600_000, "EUR", date(2025, 1, 31), date(2025, 3, 31),
                               payments=[Payment(on=date(2025, 3, 2), amount_minor=400_000)])

    # Then the payment day already counts at the lower principal:
    #   1 Feb - 1 Mar 2025, 29 days on 10,000: 10000 x 11.27 % x 29 / 365 = 89.5425 -> EUR 89.54
    #   2 - 31 Mar 2025,    30 days on  6,000:  6000 x 11.27 % x 30 / 365 = 55.5781 -> EUR 55.58
    assert claim is not None
    assert [(p.from_date, p.days, p.principal_minor, p.interest_minor) for p in claim.periods] == [
        (date(2025, 2, 1), 29, 1_000_000, 8954),
        (date(2025, 3, 2), 30, 600_000, 5558),
    ]
    assert claim.interest_minor == 14512 and claim.principal_minor == 600_000


def test_france_a_partial_payment_and_a_half_year_change_in_one_claim():
    # Given EUR 5,000.00 due on 31 May 2024, EUR 2,000.00 paid on 15 June 2024, EUR 3,000.00 open on 31 July 2024,
    # under L441-10: the ECB rate in force on 1 January 2024 (4.50 %) for the first half-year and on
    # 1 July 2024 (4.25 %, since 12 June 2024) for the second, each + 10 points
    claim = late_payment_claim(FRANCE, 300_000, "EUR", date(2024, 5, 31), date(2024, 7, 31),
                               payments=[Payment(on=date(2024, 6, 15), amount_minor=200_000)])

    # Then three periods:
    #   1-14 June,  14 days on 5,000 at 14.50 %: 5000 x 14.5 % x 14 / 365 = 27.8082 -> EUR 27.81
    #   15-30 June, 16 days on 3,000 at 14.50 %: 3000 x 14.5 % x 16 / 365 = 19.0685 -> EUR 19.07
    #   1-31 July,  31 days on 3,000 at 14.25 %: 3000 x 14.25 % x 31 / 365 = 36.3082 -> EUR 36.31
    #   EUR 83.19 of interest and the EUR 40 indemnité forfaitaire (D441-5)
    assert claim is not None
    assert [(p.days, p.principal_minor, p.annual_rate_percent, p.interest_minor) for p in claim.periods] == [
        (14, 500_000, Decimal("14.50"), 2781),
        (16, 300_000, Decimal("14.50"), 1907),
        (31, 300_000, Decimal("14.25"), 3631),
    ]
    assert (claim.interest_minor, claim.compensation_minor) == (8319, 4000)


def test_uk_the_rate_when_interest_starts_applies_for_the_life_of_the_debt():
    # Given GBP 12,000.00 due on 15 June 2025 and unpaid on 14 August 2025. Interest starts on 16 June 2025,
    # in the half-year from 1 January, so the reference rate is Bank Rate on 31 December 2024 (4.75 %);
    # it does not move on 1 July 2025 although Bank Rate on 30 June 2025 was 4.25 % (Order 2002 art. 4).
    claim = late_payment_claim(UK, 1_200_000, "GBP", date(2025, 6, 15), date(2025, 8, 14))

    # Then one period of 60 days (15 + 31 + 14) at 12.75 %: 12000 x 12.75 % x 60 / 365 = 251.5068 -> GBP 251.51,
    # and the fixed sum for a debt of GBP 10,000 or more: GBP 100
    assert claim is not None and len(claim.periods) == 1
    period = claim.periods[0]
    assert (period.days, period.reference_rate_percent, period.annual_rate_percent) == (60, Decimal("4.75"), Decimal("12.75"))
    assert (claim.interest_minor, claim.compensation_minor) == (25151, 10000)


@pytest.mark.parametrize("debt_minor, fixed_sum", [(99_999, 4000), (100_000, 7000), (999_999, 7000), (1_000_000, 10000)])
def test_uk_fixed_sums_follow_the_size_of_the_debt(debt_minor: int, fixed_sum: int):
    # Section 5A: GBP 40 below GBP 1,000; GBP 70 from GBP 1,000 to below GBP 10,000; GBP 100 from GBP 10,000
    assert statutory_compensation("uk_late_payment_act", debt_minor) == fixed_sum
    claim = late_payment_claim(UK, debt_minor, "GBP", date(2025, 3, 1), date(2025, 3, 31))
    assert claim is not None and claim.compensation_minor == fixed_sum


def test_eu_statutory_rate_in_2026_follows_the_ecb_rate_of_each_half_year():
    # Given the EU scheme in 2026: the ECB rate was 2.15 % on 1 January 2026, the 10.15 % (2.15 + 8) the default policy
    # quotes, but 2.40 % on 1 July 2026 (raised by 25 bp on 11 June 2026, see the ecb_mro table)
    assert statutory_reference_rate("eu_2011_7", date(2026, 3, 1)) == Decimal("2.15")
    statutory = late_payment_claim(LatePayment(scheme="eu_2011_7"), 125_000, "EUR", date(2026, 10, 1), date(2026, 10, 31))

    # Then a claim in the second half-year runs at 2.40 + 8 = 10.40 %: 1250 x 10.40 % x 30 / 365 = 10.6849 -> EUR 10.68,
    # and EUR 40
    assert statutory is not None
    assert statutory.annual_rate_percent == Decimal("10.40")
    assert (statutory.interest_minor, statutory.compensation_minor) == (1068, 4000)


def test_a_statutory_fixed_sum_in_another_currency_is_only_what_the_policy_sets():
    # Given a German claim on a USD invoice: the EUR 40 flat fee is not silently converted
    assert late_payment_claim(GERMANY, 125_000, "USD", date(2025, 3, 1), date(2025, 3, 31)).compensation_minor == 0
    # And a policy that sets its own sum for USD claims it
    priced = LatePayment(scheme="de_bgb_288", fixed_compensation={"USD": 4500})
    assert late_payment_claim(priced, 125_000, "USD", date(2025, 3, 1), date(2025, 3, 31)).compensation_minor == 4500


def test_a_day_the_rate_table_does_not_reach_is_refused_not_guessed():
    # Given a claim running into 2027, beyond what the table covers
    with pytest.raises(ReferenceRateUnknown, match="2027-01-01"):
        late_payment_claim(GERMANY, 125_000, "EUR", date(2026, 12, 1), date(2027, 1, 15))
    # And one starting before the table begins
    with pytest.raises(ReferenceRateUnknown, match="de_basiszinssatz"):
        late_payment_claim(GERMANY, 125_000, "EUR", date(2022, 6, 1), date(2022, 7, 1))


# -- the rate table ------------------------------------------------------------------------------------


def test_the_german_base_rate_follows_247_bgb_from_the_ecb_rate():
    # § 247 Abs. 1 BGB: on 1 January and 1 July the base rate changes by as many points as the ECB rate of the most
    # recent main refinancing operation before that day has moved since the base rate last changed. Both tables
    # are typed in by hand; deriving one from the other catches a typo in either.
    tables = reference_rates()
    ecb, base = tables["ecb_mro"], tables["de_basiszinssatz"]
    expected = base.in_force_on(date(2023, 1, 1), "de_basiszinssatz")  # 1.62 %, set when the ECB rate was 2.50 %
    ecb_at_last_change = ecb.in_force_on(date(2022, 12, 31), "ecb_mro")
    half_year = date(2023, 7, 1)
    while half_year <= date(2026, 7, 1):
        ecb_before = ecb.in_force_on(half_year - timedelta(days=1), "ecb_mro")
        if ecb_before != ecb_at_last_change:
            expected += ecb_before - ecb_at_last_change
            ecb_at_last_change = ecb_before
        assert base.in_force_on(half_year, "de_basiszinssatz") == expected, half_year
        half_year = date(half_year.year + half_year.month // 7, 1 if half_year.month == 7 else 7, 1)


def test_the_rate_table_covers_2023_to_2026_with_a_source_for_every_row():
    import yaml

    from arrears.domain.interest import RATES_FILE

    data = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    for name, series in data.items():
        assert series["source_url"].startswith("https://"), name
        assert series["complete_through"] >= date(2026, 12, 31), name
        assert series["rates"][0]["from"] <= date(2023, 1, 1), name
        for row in series["rates"]:
            assert row["checked"] in {"official", "secondary", "unverified"}, (name, row)
            assert row["checked"] != "secondary" or row["seen"].startswith("https://"), (name, row)
    # Every scheme's reference rate is known for every half-year from 2023 to 2026
    for scheme in SCHEMES:
        for year in range(2023, 2027):
            for month in (1, 7):
                assert statutory_reference_rate(scheme, date(year, month, 1)) >= 0


# -- the policy chooses the scheme ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "terms, message",
    [
        ({"scheme": "de_bgb_288", "annual_rate_percent": "11.27"}, "takes its rate from the reference-rate table"),
        ({"annual_rate_percent": "8"}, "needs basis"),
        ({"basis": "Terms and conditions, clause 7"}, "needs annual_rate_percent"),
        ({"scheme": "us_statutory"}, "contractual"),
        ({"scheme": "fr_l441_10", "day_count": 400}, "day_count"),
    ],
)
def test_a_policy_that_mixes_up_its_late_payment_terms_is_refused_with_a_clear_reason(terms: dict, message: str):
    with pytest.raises(ValidationError, match=message):
        LatePayment.model_validate(terms)


# -- for any claim -------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    scheme=st.sampled_from(["de_bgb_288", "fr_l441_10", "eu_2011_7", "uk_late_payment_act"]),
    due_on=st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 6, 30)),
    days_late=st.integers(min_value=1, max_value=540),
    balance=st.integers(min_value=1, max_value=10_000_000),
    paid=st.lists(st.tuples(st.integers(min_value=0, max_value=600), st.integers(min_value=1, max_value=500_000)), max_size=4),
)
def test_any_claim_covers_each_day_once_on_a_principal_that_only_falls(scheme, due_on, days_late, balance, paid):
    as_of = min(due_on + timedelta(days=days_late), date(2026, 12, 31))
    payments = [Payment(on=due_on + timedelta(days=offset), amount_minor=amount) for offset, amount in paid]
    claim = late_payment_claim(LatePayment(scheme=scheme, fixed_compensation={"EUR": 4000, "GBP": 4000}),
                               balance, "EUR", due_on, as_of, payments)
    assert claim is not None
    # Every day from the day after the due date to as_of is in exactly one period, in order
    assert claim.from_date == due_on + timedelta(days=1) and claim.to_date == as_of
    for before, after in zip(claim.periods, claim.periods[1:]):
        assert after.from_date == before.to_date + timedelta(days=1)
        assert after.principal_minor <= before.principal_minor
        assert (after.annual_rate_percent, after.principal_minor) != (before.annual_rate_percent, before.principal_minor)
    assert sum(p.days for p in claim.periods) == claim.days == (as_of - due_on).days
    # The principal ends at the balance still owed, and no period charges for money already received
    assert claim.principal_minor == balance
    assert all(p.interest_minor >= 0 for p in claim.periods)
    # Each period is that period's simple interest, rounded once (a half-cent at most per period)
    for p in claim.periods:
        exact = Decimal(p.principal_minor) * p.annual_rate_percent / 100 * p.days / claim.day_count
        assert abs(Decimal(p.interest_minor) - exact) <= Decimal("0.5")
    # The UK rate never changes over the life of a debt
    if scheme == "uk_late_payment_act":
        assert len({p.annual_rate_percent for p in claim.periods}) == 1
