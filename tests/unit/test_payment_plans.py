"""Payment plans: reminders per instalment, no other contact while kept, escalation when one is missed."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from arrears.domain.holds import ActionRefused, agree_payment_plan
from arrears.ingestion.billing_changes import InvoiceUpdate, UpdateKind
from arrears.domain.models import Instalment, InvoiceStatus
from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, read_book
from tests.unit.test_simulator import ROW, book_file

START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
AGREED = datetime(2026, 10, 12, 12, tzinfo=timezone.utc)  # after the +7 reminder of an invoice due 1 October
# 2,500.00 GBP in three instalments
PLAN = [Instalment(due_on=date(2026, 10, 30), amount=100_000), Instalment(due_on=date(2026, 11, 30), amount=100_000),
        Instalment(due_on=date(2026, 12, 30), amount=50_000)]


def payment(book_item, at: datetime, remaining: int, n: int) -> tuple[datetime, InvoiceUpdate]:
    invoice = book_item.invoice
    status = InvoiceStatus.PAID if remaining == 0 else InvoiceStatus.OPEN
    kind = UpdateKind.PAID if remaining == 0 else UpdateKind.OPENED
    paid = invoice.model_copy(update={"status": status, "amount_paid": invoice.amount_due - remaining,
                                      "amount_remaining": remaining, "provider_updated_at": at})
    return at, InvoiceUpdate(f"payment-{n}", "invoice.payment_succeeded", kind, at, paid, book_item.customer)


def run(tmp_path, policy, payments):
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="")))
    simulation = Simulation(policy)
    simulation.add_updates(book_updates(book))
    simulation.add_updates([payment(book[0], at, remaining, n) for n, (at, remaining) in enumerate(payments)])
    simulation.add_action(AGREED, lambda sim: agree_payment_plan("in_1", PLAN, "cash-flow trouble, agreed by phone",
                                                                 FINANCE, sim.store, sim.store, sim.ports.policies, sim.clock.at))
    return simulation.run(START + timedelta(days=250)), simulation


def sent(result):
    return [(e.step_id, e.template, e.at) for e in result.logs["in_1"] if e.kind in ("email", "letter", "call_task", "referral")]


def on(day: date, hour: int = 14) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def test_a_kept_plan_gets_one_reminder_per_instalment_and_nothing_else(tmp_path, default_policy):
    # Given each instalment paid on its due date (the last one settles the invoice)
    result, simulation = run(tmp_path, default_policy, [(on(PLAN[0].due_on), 150_000), (on(PLAN[1].due_on), 50_000),
                                                        (on(PLAN[2].due_on), 0)])
    after = [(step, template, at) for step, template, at in sent(result) if at >= AGREED]
    # Then only the three instalment reminders went out, three days before each instalment, at contact time
    assert [template for _, template, _ in after] == ["instalment_reminder"] * 3
    # 27 Dec 2026 is a Sunday and 28 Dec the Boxing Day substitute bank holiday in England
    assert [at.date() for _, _, at in after] == [date(2026, 10, 27), date(2026, 11, 27), date(2026, 12, 29)]
    assert simulation.store.get_invoice("in_1").status is InvoiceStatus.PAID
    kinds = [e.kind for e in result.logs["in_1"]]
    assert kinds.count("hold_placed") == 1 and "hold_released" not in kinds  # the plan never broke


def test_a_missed_instalment_sends_its_own_message_then_escalation_resumes(tmp_path, default_policy):
    # Given the first instalment paid, the second never
    result, _ = run(tmp_path, default_policy, [(on(PLAN[0].due_on), 150_000)])
    after = [(step, template, at) for step, template, at in sent(result) if at >= AGREED]
    templates = [template for _, template, _ in after]
    # Then: two reminders, the broken-plan message after the grace days, then the policy's remaining steps
    assert templates[:3] == ["instalment_reminder", "instalment_reminder", "broken_payment_plan"]
    broken_at = after[2][2]
    assert broken_at.date() == date(2026, 12, 3)  # 30 November + 3 grace days, a Thursday
    assert "formal_notice" in templates[3:] and all(at > broken_at for _, _, at in after[3:])
    broken = next(e for e in result.logs["in_1"] if e.template == "broken_payment_plan")
    assert "has not arrived" in broken.subject or broken.subject.startswith("Instalment missed")
    released = next(e for e in result.logs["in_1"] if e.kind == "hold_released")
    assert released.at == broken_at and released.details["hold"] == "payment_plan"


def test_an_instalment_paid_early_is_not_reminded(tmp_path, default_policy):
    # Given the first two instalments paid together before the first reminder
    result, _ = run(tmp_path, default_policy, [(datetime(2026, 10, 20, 12, tzinfo=timezone.utc), 50_000)])
    reminders = [at.date() for _, template, at in sent(result) if template == "instalment_reminder"]
    assert reminders == [date(2026, 12, 29)]


@pytest.mark.parametrize("instalments, message", [
    ([Instalment(due_on=date(2026, 10, 30), amount=250_000)], "2 to 24"),
    ([Instalment(due_on=date(2026, 11, 30), amount=100_000), Instalment(due_on=date(2026, 10, 30), amount=150_000)], "in order"),
    ([Instalment(due_on=date(2026, 9, 30), amount=100_000), Instalment(due_on=date(2026, 10, 30), amount=150_000)], "in the past"),
    ([Instalment(due_on=date(2026, 10, 30), amount=100_000), Instalment(due_on=date(2026, 11, 30), amount=100_000)], "add up"),
])
def test_a_plan_that_does_not_fit_is_refused_and_changes_nothing(tmp_path, default_policy, instalments, message):
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="")))
    simulation = Simulation(default_policy)
    simulation.add_updates(book_updates(book))
    simulation.run(AGREED)
    before = simulation.store.entries("in_1")
    with pytest.raises(ActionRefused, match=message) as refused:
        agree_payment_plan("in_1", instalments, "", FINANCE, simulation.store, simulation.store, simulation.ports.policies, AGREED)
    assert refused.value.code == "invalid_plan"
    assert simulation.store.entries("in_1") == before and simulation.store.get_invoice("in_1").hold is None
