"""One realistic notice for the rendering tests: Müller & Söhne GmbH, Berlin, owing EUR 1,250.00.

The notice is written in English unless a test asks for another language; what happens next is taken
from the wording catalogue in that language, as `build_notice` takes it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from arrears.domain.interest import late_payment_claim
from arrears.domain.models import Address, InvoiceLine
from arrears.domain.notices import NoticeContext
from arrears.domain.policy.model import Creditor, LatePayment, Stage
from arrears.domain.wording import wording_for

DUE = date(2026, 3, 2)
CREDITOR = Creditor(
    name="Northwind Analytics Ltd",
    address=Address(line1="12 Finsbury Square", postal_code="EC2A 1AS", city="London", country="GB"),
    email="accounts@northwind.example",
    phone="+44 20 7946 0100",
    company_number="09876543",
    vat_number="GB 123 4567 89",
    bank_account_name="Northwind Analytics Ltd",
    iban="GB33 BUKB 2020 1555 5555 55",
    bic="BUKBGB22",
)
TERMS = LatePayment(
    annual_rate_percent=Decimal("10.15"),
    basis="Directive 2011/7/EU: ECB reference rate 2.15% + 8 percentage points",
    fixed_compensation={"EUR": 4000},
)
FORMAL_CONSEQUENCE = (
    "If the amount claimed is not paid or disputed by the deadline, we will send a final notice and then refer "
    "the debt to a collection agency or take legal action, which may add further costs."
)
# template -> (stage, days from the due date)
STEPS = {
    "courtesy_reminder": (Stage.COURTESY_REMINDER, -7),
    "due_notice": (Stage.DUE_NOTICE, 0),
    "overdue_reminder": (Stage.OVERDUE_REMINDER, 15),
    "formal_notice": (Stage.FORMAL_NOTICE, 30),
    "final_notice": (Stage.FINAL_NOTICE, 60),
    "referral_notice": (Stage.REFERRAL, 90),
}
# Templates sent with extra facts: the broken-promise reminder and the agency's referral email.
EXTRA = {
    "broken_promise": ("overdue_reminder", {"promised_on": date(2026, 3, 20), "promised_at": date(2026, 3, 12)}),
    "agency_referral": ("referral_notice", {"agency": "Lambert & Cole Collections"}),
    # A plan of three instalments of EUR 416.67 agreed on 10 March; the second is at stake.
    "instalment_reminder": ("overdue_reminder", {
        "agreed_on": date(2026, 3, 10), "instalments": 3, "paid_minor": 41667, "due_so_far_minor": 41667,
        "instalment_due_on": date(2026, 4, 10), "instalment_minor": 41667, "instalment_number": 2}),
    "broken_payment_plan": ("overdue_reminder", {
        "agreed_on": date(2026, 3, 10), "instalments": 3, "paid_minor": 41667, "due_so_far_minor": 83334,
        "instalment_due_on": date(2026, 4, 10), "instalment_minor": 41667, "instalment_number": 2}),
}


def make_notice(step: str = "formal_notice", language: str = "en", **overrides: object) -> NoticeContext:
    """The notice sent at `step` (a template name) for invoice INV-2026-0042, due 2 March 2026."""
    if step in EXTRA:
        base, extra = EXTRA[step]
        return make_notice(base, language, **{"template": step, "extra": extra, **overrides})
    stage, offset = STEPS[step]
    consequence = "" if offset <= 0 else wording_for(language)(f"consequence.{stage.value}")
    today = DUE + timedelta(days=offset)
    claims_interest = stage in (Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE, Stage.REFERRAL)
    values: dict[str, object] = dict(
        stage=stage,
        template=step,
        tone="firm",
        language=language,
        reference="INV-2026-0042",
        step_id=step,
        letter_date=today,
        creditor=CREDITOR,
        debtor_name="Müller & Söhne GmbH",
        debtor_email="buchhaltung@mueller-soehne.example",
        debtor_address_lines=("Friedrichstraße 123", "10117 Berlin", "Germany"),
        invoice_number="INV-2026-0042",
        issued_on=date(2026, 1, 31),
        due_on=DUE,
        currency="EUR",
        amount_due_minor=125000,
        amount_paid_minor=0,
        balance_minor=125000,
        days_overdue=offset,
        pay_url="https://pay.northwind.example/i/INV-2026-0042",
        lines=(
            InvoiceLine(description="Analytics platform, annual licence", amount=100000),
            InvoiceLine(description="Onboarding workshop, 2 days", amount=25000),
        ),
        interest=late_payment_claim(TERMS, 125000, "EUR", DUE, today) if claims_interest else None,
        deadline=today + timedelta(days=14) if stage in (Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE) else None,
        next_consequence=consequence,
    )
    values.update(overrides)
    return NoticeContext(**values)  # type: ignore[arg-type]
