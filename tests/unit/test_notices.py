"""What a notice says in the debtor's language: the consequence, the legal basis and the interest it claims."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from arrears.rendering.letter_pdf import render_demand_letter
from arrears.domain.interest import Payment
from arrears.domain.notices import NoticeIncomplete, build_notice, partial_payments
from arrears.domain.policy.model import LatePayment, Stage
from arrears.adapters.memory import MemoryStore


def formal_step(policy):
    return next(step for step in policy.segment_for("standard").steps if step.stage is Stage.FORMAL_NOTICE)


@pytest.mark.parametrize(
    "language, consequence, basis",
    [
        ("en", "If the amount claimed is not paid", "section 288(2) German Civil Code (BGB)"),
        ("de", "Geht der Forderungsbetrag nicht", "§ 288 Abs. 2 BGB: Basiszinssatz der Deutschen Bundesbank"),
        ("fr-FR", "À défaut de paiement ou de contestation", "article 288, alinéa 2, du Code civil allemand (BGB)"),
    ],
)
def test_the_notice_states_consequence_and_legal_basis_in_the_debtors_language(
    default_policy, open_invoice, berlin_customer, language: str, consequence: str, basis: str
) -> None:
    # Given a policy claiming German statutory interest and a debtor writing in `language`
    policy = default_policy.model_copy(update={"late_payment": LatePayment(scheme="de_bgb_288")})
    customer = berlin_customer.model_copy(update={"language": language})

    # When the formal notice is built 30 days after the due date of 1 October 2026
    notice = build_notice(open_invoice, customer, policy, formal_step(policy), datetime(2026, 10, 31, 9, tzinfo=timezone.utc))

    # Then what happens next and the legal basis are in that language, and the interest is the statutory one:
    # 2 - 31 October 2026, 30 days at 1.52 % + 9 = 10.52 %: 1250 x 10.52 % x 30 / 365 = 10.8082 -> EUR 10.81
    # (the 1 July 2026 base rate, 1.27 % + the ECB's 0.25-point rise of June 2026 by § 247 Abs. 1 BGB, is marked
    # unverified in the table until the Bundesbank's own figure is checked)
    assert notice.next_consequence.startswith(consequence)
    assert notice.interest is not None and notice.interest.basis.startswith(basis)
    assert (notice.interest.annual_rate_percent, notice.interest.interest_minor) == (Decimal("10.52"), 1081)
    assert notice.interest.compensation_minor == 4000


def test_part_payments_from_the_contact_log_lower_the_principal_in_the_notice(default_policy, open_invoice, berlin_customer):
    # Given EUR 1,250.00 due 1 October 2026, of which EUR 500.00 arrived on 16 October (logged by the webhook)
    store = MemoryStore()
    store.append(open_invoice.invoice_id, berlin_customer.customer_id, datetime(2026, 10, 16, 14, tzinfo=timezone.utc),
                 kind="partial_payment", actor="stripe", details={"amount_paid": 50_000, "paid_now": 50_000})
    store.append(open_invoice.invoice_id, berlin_customer.customer_id, datetime(2026, 10, 16, 14, tzinfo=timezone.utc),
                 kind="email", actor="workflow", details={})
    invoice = open_invoice.model_copy(update={"amount_paid": 50_000, "amount_remaining": 75_000})
    step = formal_step(default_policy)

    # When the formal notice is built on 31 October with the payments the log holds
    payments = partial_payments(invoice, berlin_customer, default_policy, step, store.entries)
    notice = build_notice(invoice, berlin_customer, default_policy, step, datetime(2026, 10, 31, 9, tzinfo=timezone.utc),
                          payments)

    # Then interest runs on 1,250.00 until 15 October and on 750.00 from 16 October (default policy: 10.15 %):
    #   2 - 15 Oct, 14 days: 1250 x 10.15 % x 14 / 365 = 4.8664 -> EUR 4.87
    #   16 - 31 Oct, 16 days: 750 x 10.15 % x 16 / 365 = 3.3370 -> EUR 3.34
    assert payments == (Payment(on=datetime(2026, 10, 16).date(), amount_minor=50_000),)
    assert notice.interest is not None
    assert [(p.days, p.principal_minor, p.interest_minor) for p in notice.interest.periods] == [(14, 125_000, 487), (16, 75_000, 334)]
    # And a step that claims no interest does not read the log at all
    reminder = next(s for s in default_policy.segment_for("standard").steps if s.stage is Stage.OVERDUE_REMINDER)
    assert partial_payments(invoice, berlin_customer, default_policy, reminder, lambda _: pytest.fail("log read")) == ()


def test_a_claim_beyond_the_rate_table_blocks_the_notice_instead_of_guessing(default_policy, open_invoice, berlin_customer):
    # Given German statutory interest and a formal notice in 2027, past the end of the rate table
    policy = default_policy.model_copy(update={"late_payment": LatePayment(scheme="de_bgb_288")})
    invoice = open_invoice.model_copy(update={"due_at": datetime(2026, 12, 15, 9, tzinfo=timezone.utc)})

    # When it is built, then it is refused (the workflow records it and opens a task), naming what is missing
    with pytest.raises(NoticeIncomplete, match="2027-01-01"):
        build_notice(invoice, berlin_customer, policy, formal_step(policy), datetime(2027, 1, 14, 9, tzinfo=timezone.utc))


def test_a_french_debtors_letter_from_a_built_notice_is_french_throughout(default_policy, open_invoice, berlin_customer):
    # Given a French debtor in Paris under the French statutory scheme
    from arrears.domain.models import Address

    policy = default_policy.model_copy(update={"late_payment": LatePayment(scheme="fr_l441_10")})
    customer = berlin_customer.model_copy(update={
        "name": "Atelier Lumière SARL", "language": "fr", "timezone": "Europe/Paris",
        "address": Address(line1="18 rue de la Paix", city="Paris", postal_code="75002", country="FR")})

    # When the formal notice is built and its letter rendered
    notice = build_notice(open_invoice, customer, policy, formal_step(policy), datetime(2026, 10, 31, 9, tzinfo=timezone.utc))
    from pypdf import PdfReader
    import io

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(render_demand_letter(notice))).pages)
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\n", " ")

    # Then it cites L. 441-10 and D. 441-5, at the ECB rate in force on 1 July 2026 (2.40 %) + 10 points, in French
    assert "article L. 441-10 du Code de commerce" in text and "D. 441-5" in text
    # (30 days: 1250 x 12.40 % x 30 / 365 = 12.7397 -> EUR 12.74; babel writes the rates without trailing zeros)
    assert "Pénalités de retard 12,74 € 12,4 % l'an (2,4 % + 10 points)" in text
    assert "75002 Paris" in text and "Mise en demeure de payer" in text
