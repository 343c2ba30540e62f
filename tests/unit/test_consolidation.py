"""One message per customer (issue #15): what a message covers and lists, and the statement of account.

A London customer, Harbour Freight Ltd, with several open invoices under the default policy (v3:
consolidation on, a 7-day window). Invoices are planned with `dunning.plan_for`, as the workflow does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.domain import dunning
from arrears.domain.aging import AgingBucket
from arrears.domain.consolidation import (
    MESSAGE_CHANNELS,
    OpenInvoice,
    consolidate,
    next_message_step,
    statement_of_account,
)
from arrears.domain.models import Address, Customer, Hold, HoldKind, Invoice, InvoiceLine
from arrears.domain.policy import Stage, load_policy_file

LONDON = ZoneInfo("Europe/London")
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
CUSTOMER = Customer(customer_id="cus_harbour", provider="stripe", name="Harbour Freight Ltd", email="ap@harbour.example",
                    address=Address(line1="4 Quay Street", city="Bristol", postal_code="BS1 4DJ", country="GB"),
                    timezone="Europe/London", updated_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
NOW = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in London


def invoice(number: str, due_days: int, balance: int = 120_000, currency: str = "GBP", paid: int = 0,
            done: tuple[str, ...] | None = None, hold: HoldKind | None = None, credited: int = 0, **changes) -> Invoice:
    """An invoice due `due_days` from NOW (negative: overdue), its steps before NOW done unless `done` says."""
    due = NOW + timedelta(days=due_days)
    record = Invoice(invoice_id=f"in_{number}", provider="stripe", number=number, customer_id=CUSTOMER.customer_id,
                     currency=currency, amount_due=balance + paid, amount_paid=paid, amount_remaining=balance,
                     issued_at=due - timedelta(days=30), due_at=due, provider_updated_at=due - timedelta(days=30),
                     lines=(InvoiceLine(description="Freight services", amount=balance + paid + credited),),
                     policy_id="default", policy_version=POLICY.version, segment="standard", **changes)
    if done is None:
        done = tuple(p.step.id for p in dunning.plan_for(record, CUSTOMER, POLICY) if p.at < NOW - timedelta(seconds=1))
    if hold is not None:
        record = record.model_copy(update={"hold": Hold(kind=hold, since=NOW - timedelta(days=2), actor="finance-jane")})
    return record.model_copy(update={"completed_steps": done})


def item(record: Invoice) -> OpenInvoice:
    return OpenInvoice(record, tuple(dunning.plan_for(record, CUSTOMER, POLICY)))


def due_now(record: Invoice):
    step = next_message_step(item(record))
    assert step is not None and abs((step.at - NOW).total_seconds()) < 1, step
    return step


def test_an_invoice_due_now_covers_the_customers_messages_due_within_the_window():
    # Given an invoice whose +7 reminder falls due now, one whose due-date notice falls in 3 days, one whose
    # +7 reminder falls in 6 days, one whose formal notice is 10 days away (outside the 7-day window), and one
    # due in 12 days whose courtesy reminder falls in 5
    carrier = invoice("HF-101", -7)
    due_soon = invoice("HF-102", 3)
    reminder_soon = invoice("HF-103", -1)
    later = invoice("HF-104", -20)
    coming = invoice("HF-105", 12)
    book = [item(r) for r in (carrier, due_soon, reminder_soon, later, coming)]
    # When its message is consolidated
    message = consolidate(item(carrier), due_now(carrier), book, POLICY, NOW, LONDON)
    # Then it covers each of those within the window, the carrying invoice's step first
    assert message is not None and message.carrying_invoice_id == "in_HF-101"
    assert [(c.invoice_id, c.step_id) for c in message.covered] == [
        ("in_HF-101", "overdue_7"), ("in_HF-102", "due_notice"), ("in_HF-105", "courtesy_reminder"),
        ("in_HF-103", "overdue_7")]
    # And it lists every open invoice, oldest due first, with its figures and stage
    assert [line.number for line in message.lines] == ["HF-104", "HF-101", "HF-103", "HF-102", "HF-105"]
    lines = {line.number: line for line in message.lines}
    assert lines["HF-101"].days_overdue == 7 and lines["HF-101"].stage is Stage.OVERDUE_REMINDER
    assert lines["HF-104"].stage is Stage.OVERDUE_REMINDER and lines["HF-104"].covered_step is None
    assert lines["HF-102"].stage is Stage.DUE_NOTICE and lines["HF-102"].coming_due
    assert lines["HF-105"].coming_due and lines["HF-105"].days_overdue == -12
    # And the total asked is what is due or overdue; what is coming due is shown apart
    (gbp,) = message.totals
    assert gbp.asked_minor == 360_000 and gbp.overdue_minor == 360_000 and gbp.coming_due_minor == 240_000


def test_a_not_yet_due_invoice_outside_the_window_is_not_listed():
    carrier = invoice("HF-111", -7)
    far = invoice("HF-112", 20)
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(far)], POLICY, NOW, LONDON)
    assert message.alone


def test_without_coming_due_a_courtesy_reminder_goes_alone():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(update={"coming_due": False})})
    carrier = invoice("HF-121", -7)
    coming = invoice("HF-122", 4)
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(coming)], policy, NOW, LONDON)
    assert message.alone


def test_the_most_escalated_invoice_carries_the_message():
    # Given a due-date notice due now and another invoice's formal notice (a letter) due in 4 days
    due = invoice("HF-201", 0)
    old = invoice("HF-202", -26)
    message = consolidate(item(due), due_now(due), [item(due), item(old)], POLICY, NOW, LONDON)
    # Then the formal notice carries: its template and channel are the message's
    assert message.carrying_invoice_id == "in_HF-202"
    assert message.carrying_step.id == "formal_notice" and message.carrying_step.channel.value == "letter"
    assert message.covered[0].invoice_id == "in_HF-202"


def test_a_held_invoice_is_listed_as_on_hold_never_covered_nor_asked_for():
    carrier = invoice("HF-301", -7)
    disputed = invoice("HF-302", 2, hold=HoldKind.DISPUTE)
    promised = invoice("HF-303", -20, balance=50_000, hold=HoldKind.PROMISE)
    message = consolidate(item(carrier), due_now(carrier), [item(r) for r in (carrier, disputed, promised)],
                          POLICY, NOW, LONDON)
    assert message.covered_invoice_ids() == {"in_HF-301"}
    held = {line.number: line.hold for line in message.lines if line.hold}
    assert held == {"HF-302": HoldKind.DISPUTE, "HF-303": HoldKind.PROMISE}
    assert message.totals[0].asked_minor == 120_000 and message.totals[0].held_minor == 170_000


def test_a_policy_may_leave_held_invoices_out():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(update={"holds": "omit"})})
    carrier = invoice("HF-311", -7)
    disputed = invoice("HF-312", -10, hold=HoldKind.DISPUTE)
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(disputed)], policy, NOW, LONDON)
    assert [line.number for line in message.lines] == ["HF-311"] and message.alone


def test_currencies_are_never_summed_a_message_lists_its_own_currency():
    carrier = invoice("HF-401", -7)
    euro = invoice("HF-402", 3, currency="EUR")
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(euro)], POLICY, NOW, LONDON)
    assert message.currencies == ("GBP",) and message.alone


def test_with_separate_totals_a_reminder_lists_each_currency_with_its_own_total():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(
        update={"currencies": "separate_totals"})})
    carrier = invoice("HF-411", -7)
    euro = invoice("HF-412", 3, currency="EUR", balance=80_000)
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(euro)], policy, NOW, LONDON)
    assert message.currencies == ("GBP", "EUR")
    assert [(t.currency, t.asked_minor, t.coming_due_minor) for t in message.totals] == [
        ("GBP", 120_000, 0), ("EUR", 0, 80_000)]
    # But a demand letter claims in one currency
    old_euro = invoice("HF-413", -26, currency="EUR")
    formal = invoice("HF-414", -30)
    demand = consolidate(item(formal), due_now(formal), [item(formal), item(euro), item(old_euro)], policy, NOW, LONDON)
    assert demand.currencies == ("GBP",)


def test_a_referral_is_never_brought_forward():
    carrier = invoice("HF-501", -7)
    near_referral = invoice("HF-502", -87)  # its referral is 3 days away
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), item(near_referral)], POLICY, NOW, LONDON)
    assert message.covered_invoice_ids() == {"in_HF-501"}
    assert next(line for line in message.lines if line.number == "HF-502").stage is Stage.FINAL_NOTICE


def test_referrals_go_together_and_never_with_another_message():
    # Given two invoices whose referrals are due now, and one whose +15 reminder is due in 2 days
    first, second, reminder = invoice("HF-511", -90), invoice("HF-512", -90), invoice("HF-513", -13)
    book = [item(r) for r in (first, second, reminder)]
    # When the first's referral is consolidated, Then it covers and lists the two referrals only
    message = consolidate(item(first), due_now(first), book, POLICY, NOW, LONDON)
    assert message.covered_invoice_ids() == {"in_HF-511", "in_HF-512"}
    assert {line.number for line in message.lines} == {"HF-511", "HF-512"}
    # And a reminder due now leaves a due referral to its own workflow
    early = invoice("HF-514", -7)
    reminder_message = consolidate(item(early), due_now(early), [item(early), *book], POLICY, NOW, LONDON)
    assert {c.stage for c in reminder_message.covered} == {Stage.OVERDUE_REMINDER}


def test_a_version_without_consolidation_sends_each_message_alone():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(update={"enabled": False})})
    carrier = invoice("HF-601", -7)
    assert consolidate(item(carrier), due_now(carrier), [item(carrier), item(invoice("HF-602", 3))], policy, NOW,
                       LONDON) is None


def test_a_message_lists_at_most_the_policys_number_of_invoices_keeping_what_it_covers():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(update={"max_invoices": 3})})
    carrier = invoice("HF-701", -7)
    others = [invoice(f"HF-71{n}", -3 - n) for n in range(4)] + [invoice("HF-720", 2)]
    message = consolidate(item(carrier), due_now(carrier), [item(carrier), *map(item, others)], policy, NOW, LONDON)
    # Then the carrying invoice and the most escalated of the covered are listed (the others go alone later)
    assert {line.invoice_id for line in message.lines} == {"in_HF-701", "in_HF-713", "in_HF-712"}
    assert message.covered_invoice_ids() <= {line.invoice_id for line in message.lines}


def test_the_statement_lists_every_open_invoice_with_its_aging_per_currency():
    # Given open invoices 0, 12, 45, 75 and 120 days overdue, one coming due, a disputed one, a credited one,
    # a paid one, and one in euros
    records = [invoice("HF-801", 0), invoice("HF-802", -12, paid=20_000), invoice("HF-803", -45),
               invoice("HF-804", -75), invoice("HF-805", -120), invoice("HF-806", 9),
               invoice("HF-807", -5, hold=HoldKind.DISPUTE), invoice("HF-808", -33, credited=15_000),
               invoice("HF-809", -40, balance=0, paid=90_000), invoice("HF-810", -20, currency="EUR", balance=99_00)]
    # When the statement is drawn up
    statement = statement_of_account(CUSTOMER.customer_id, [item(r) for r in records], NOW, LONDON)
    # Then each currency has its own lines and aging, the paid invoice left out
    eur, gbp = statement.currencies
    assert (eur.currency, gbp.currency) == ("EUR", "GBP")
    assert [line.number for line in gbp.lines] == ["HF-805", "HF-804", "HF-803", "HF-808", "HF-802", "HF-807",
                                                   "HF-801", "HF-806"]
    assert dict(gbp.aging) == {AgingBucket.CURRENT: 240_000, AgingBucket.DAYS_1_30: 240_000,
                               AgingBucket.DAYS_31_60: 240_000, AgingBucket.DAYS_61_90: 120_000,
                               AgingBucket.OVER_90: 120_000}
    assert gbp.balance_minor == sum(amount for _, amount in gbp.aging) == 960_000
    assert gbp.paid_minor == 20_000 and gbp.credited_minor == 15_000 and gbp.held_minor == 120_000
    assert dict(eur.aging)[AgingBucket.DAYS_1_30] == 99_00 and eur.balance_minor == 99_00
    for line in gbp.lines:
        assert line.amount_minor == line.paid_minor + line.credited_minor + line.balance_minor


# -- properties --------------------------------------------------------------------------------------

book_spec = st.lists(st.fixed_dictionaries({
    "due_days": st.integers(-100, 20),
    "currency": st.sampled_from(["GBP", "GBP", "EUR"]),
    "balance": st.integers(1, 2_000_000),
    "hold": st.one_of(st.none(), st.sampled_from([HoldKind.DISPUTE, HoldKind.PROMISE, HoldKind.PAUSE])),
    "behind": st.integers(0, 2),  # steps before now still pending (deferred behind the customer's gap)
}), min_size=1, max_size=8)
policy_spec = st.fixed_dictionaries({
    "window_days": st.integers(1, 14), "coming_due": st.booleans(), "holds": st.sampled_from(["list", "omit"]),
    "currencies": st.sampled_from(["message_per_currency", "separate_totals"]), "max_invoices": st.integers(2, 10),
})


def _book(specs):
    records = []
    for index, spec in enumerate(specs):
        record = invoice(f"P-{index}", spec["due_days"], balance=spec["balance"], currency=spec["currency"],
                         hold=spec["hold"])
        if spec["behind"] and record.completed_steps:
            record = record.model_copy(update={"completed_steps": record.completed_steps[: -spec["behind"]]})
        records.append(record)
    return records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=book_spec, terms=policy_spec, pick=st.integers(0, 7))
def test_properties_of_any_consolidated_message(specs, terms, pick):
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(update=terms)})
    records = _book(specs)
    book = [item(r) for r in records]
    # Given an unheld invoice with a message step pending at or before now (the candidate)
    candidates = [i for i in book if i.invoice.hold is None and (n := next_message_step(i)) is not None
                  and n.at <= NOW]
    if not candidates:
        return
    candidate = candidates[pick % len(candidates)]
    step = next_message_step(candidate)
    message = consolidate(candidate, step, book, policy, NOW, LONDON)
    steps = {(i.invoice.invoice_id, p.step.id): p for i in book for p in i.planned}
    by_id = {i.invoice.invoice_id: i.invoice for i in book}
    # Then the candidate's own step is covered
    assert (candidate.invoice.invoice_id, step.step.id) in {(c.invoice_id, c.step_id) for c in message.covered}
    for covered in message.covered:
        # no held invoice is covered; each covered step is a message step inside the window, one per invoice
        assert by_id[covered.invoice_id].hold is None
        assert steps[(covered.invoice_id, covered.step_id)].step.channel in MESSAGE_CHANNELS
        assert covered.at <= NOW + timedelta(days=terms["window_days"])
        if covered.stage is Stage.REFERRAL:
            assert covered.at <= NOW + timedelta(seconds=1)
    assert len({c.invoice_id for c in message.covered}) == len(message.covered)
    # the carrying invoice is the most escalated covered one
    order = list(Stage)
    assert order.index(message.carrying_step.stage) == max(order.index(c.stage) for c in message.covered)
    # no total mixes currencies; a demand claims in one currency
    for total in message.totals:
        assert total.asked_minor == sum(line.balance_minor for line in message.lines_in(total.currency) if line.asked)
    if {c.stage for c in message.covered} & {Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE, Stage.REFERRAL}:
        assert len(message.currencies) == 1
    # a referral goes with referrals only, and lists only what it refers
    if Stage.REFERRAL in {c.stage for c in message.covered}:
        assert {c.stage for c in message.covered} == {Stage.REFERRAL}
        assert {line.invoice_id for line in message.lines} == message.covered_invoice_ids()
    assert len(message.lines) <= terms["max_invoices"]
    assert message.covered_invoice_ids() <= {line.invoice_id for line in message.lines}
    # a held invoice is never asked for
    assert all(not line.asked for line in message.lines if line.hold is not None)


@settings(max_examples=80, deadline=None)
@given(specs=book_spec)
def test_properties_of_any_statement(specs):
    records = _book(specs)
    statement = statement_of_account(CUSTOMER.customer_id, [item(r) for r in records], NOW, LONDON)
    assert sum(len(c.lines) for c in statement.currencies) == len(records)
    for currency in statement.currencies:
        assert {line.currency for line in currency.lines} == {currency.currency}
        assert sum(amount for _, amount in currency.aging) == currency.balance_minor
        assert currency.amount_minor == currency.paid_minor + currency.credited_minor + currency.balance_minor


@pytest.mark.parametrize("days, bucket", [(-3, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
                                          (61, "61-90"), (90, "61-90"), (91, "90+")])
def test_aging_buckets_by_days_overdue(days, bucket):
    from arrears.domain.aging import bucket_for_days

    assert bucket_for_days(days).value == bucket
