"""Holds: no contact while on hold, resume where it left off, and the rules that refuse bad actions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.domain.holds import ActionRefused, place_hold, release_hold
from arrears.domain.models import HoldKind
from arrears.domain.policy import plan_steps
from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, read_book
from tests.unit.test_simulator import ROW, book_file

START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"


def contacts(result, invoice_id):
    return [(e.step_id, e.at) for e in result.logs[invoice_id] if e.kind in ("email", "letter", "call_task", "referral")]


def run(tmp_path, policy, actions, paid=""):
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid=paid)))
    simulation = Simulation(policy)
    simulation.add_updates(book_updates(book))
    for at, action in actions:
        simulation.add_action(at, action)
    return simulation.run(START + timedelta(days=200)), simulation, book[0]


def planned(policy, book_item, shift_days=0):
    return {p.step.id: p.at for p in plan_steps(policy, "standard", book_item.invoice.due_at, "Europe/London", "GB", shift_days)}


def test_a_dispute_stops_contacts_until_resolved_then_resumes_where_it_left_off(tmp_path, default_policy):
    # Given an invoice due 1 October 2026, disputed on 5 October (after the due-date notice), resolved 25 October
    disputed, resolved = datetime(2026, 10, 5, 12, tzinfo=timezone.utc), datetime(2026, 10, 25, 12, tzinfo=timezone.utc)

    def dispute(sim):
        place_hold("in_1", HoldKind.DISPUTE, None, "debtor says seats were cancelled", FINANCE, sim.store, sim.store, sim.clock.at)

    def resolve(sim):
        release_hold("in_1", FINANCE, sim.store, sim.store, sim.workflows, sim.clock.at, "cancellation not found")

    result, simulation, item = run(tmp_path, default_policy, [(disputed, dispute), (resolved, resolve)])
    sent = contacts(result, "in_1")
    # Then nothing went out while disputed
    assert not [step for step, at in sent if disputed <= at < resolved]
    # And afterwards every remaining step came, each moved by the 20 days on hold
    shifted = planned(default_policy, item, shift_days=20)
    assert [step for step, _ in sent] == [s.id for s in default_policy.segment_for("standard").steps]
    assert dict(sent)["overdue_7"] == shifted["overdue_7"] and dict(sent)["referral"] == shifted["referral"]
    kinds = [e.kind for e in result.logs["in_1"]]
    assert kinds.count("hold_placed") == kinds.count("hold_released") == 1
    released = next(e for e in result.logs["in_1"] if e.kind == "hold_released")
    assert released.actor == FINANCE and released.details["held_days"] == 20


def test_a_pause_ends_by_itself_on_its_date(tmp_path, default_policy):
    paused, until = datetime(2026, 10, 5, 12, tzinfo=timezone.utc), datetime(2026, 10, 15, 12, tzinfo=timezone.utc)

    def pause(sim):
        place_hold("in_1", HoldKind.PAUSE, until, "customer's AP system migration", FINANCE, sim.store, sim.store, sim.clock.at)

    result, _, item = run(tmp_path, default_policy, [(paused, pause)])
    sent = dict(contacts(result, "in_1"))
    assert sent["overdue_7"] == planned(default_policy, item, shift_days=10)["overdue_7"]
    released = next(e for e in result.logs["in_1"] if e.kind == "hold_released")
    assert released.actor == "arrears-workflow" and released.at == until


def test_a_payment_during_a_hold_ends_collection(tmp_path, default_policy):
    def dispute(sim):
        place_hold("in_1", HoldKind.DISPUTE, None, "", FINANCE, sim.store, sim.store, sim.clock.at)

    result, simulation, _ = run(tmp_path, default_policy, [(datetime(2026, 10, 5, tzinfo=timezone.utc), dispute)],
                                paid="2026-10-20T12:00:00+00:00")
    assert [step for step, _ in contacts(result, "in_1")] == ["courtesy_reminder", "due_notice"]
    # The payment stopped the parked workflow, as StopExecution does on AWS
    assert "in_1" not in simulation.running and simulation.store.get_invoice("in_1").status.value == "paid"


@pytest.mark.parametrize("kind, until, code", [
    (HoldKind.PAUSE, None, "invalid_until"),
    (HoldKind.PAUSE, datetime(2026, 9, 1, tzinfo=timezone.utc), "invalid_until"),
    (HoldKind.DISPUTE, datetime(2026, 12, 1, tzinfo=timezone.utc), "invalid_until"),
])
def test_a_hold_with_a_bad_end_date_is_refused_and_changes_nothing(tmp_path, default_policy, kind, until, code):
    _, simulation, _ = run(tmp_path, default_policy, [])
    before = simulation.store.entries("in_1")
    with pytest.raises(ActionRefused) as refused:
        place_hold("in_1", kind, until, "", FINANCE, simulation.store, simulation.store, datetime(2026, 10, 5, tzinfo=timezone.utc))
    assert refused.value.code == code
    assert simulation.store.get_invoice("in_1").hold is None and simulation.store.entries("in_1") == before


def test_holds_refuse_actions_that_do_not_fit_the_invoice(tmp_path, default_policy):
    _, simulation, _ = run(tmp_path, default_policy, [], paid="2026-10-02T12:00:00+00:00")
    now = datetime(2026, 10, 5, tzinfo=timezone.utc)
    store = simulation.store
    with pytest.raises(ActionRefused, match="paid") as closed:
        place_hold("in_1", HoldKind.DISPUTE, None, "", FINANCE, store, store, now)
    assert closed.value.code == "invoice_closed"
    with pytest.raises(ActionRefused) as unknown:
        place_hold("in_404", HoldKind.DISPUTE, None, "", FINANCE, store, store, now)
    assert unknown.value.code == "unknown_invoice"
    with pytest.raises(ActionRefused) as not_held:
        release_hold("in_1", FINANCE, store, store, simulation.workflows, now)
    assert not_held.value.code == "not_on_hold"


def test_a_second_hold_is_refused(tmp_path, default_policy):
    _, simulation, _ = run(tmp_path, default_policy, [])
    store, now = simulation.store, datetime(2026, 9, 10, tzinfo=timezone.utc)
    place_hold("in_1", HoldKind.DISPUTE, None, "", FINANCE, store, store, now)
    with pytest.raises(ActionRefused) as again:
        place_hold("in_1", HoldKind.PAUSE, now + timedelta(days=3), "", FINANCE, store, store, now)
    assert again.value.code == "already_on_hold"


def _promise(promised_on, at_date=None):
    from arrears.domain.holds import promise_to_pay

    def act(sim):
        promise_to_pay("in_1", promised_on, FINANCE, sim.store, sim.store, sim.ports.policies, sim.clock.at)
    return act


def test_a_broken_promise_gets_its_own_message_then_collection_resumes(tmp_path, default_policy):
    from datetime import date

    # Given a debtor who, on 5 October (after the due-date notice), promises to pay by Friday 9 October
    promised_at = datetime(2026, 10, 5, 12, tzinfo=timezone.utc)
    result, simulation, item = run(tmp_path, default_policy, [(promised_at, _promise(date(2026, 10, 9)))])
    entries = result.logs["in_1"]
    broken = next(e for e in entries if e.template == "broken_promise")
    # Then nothing goes out until the promised date plus 3 days' grace (Monday 12 October, 10:00 London)
    assert broken.at == datetime(2026, 10, 12, 9, tzinfo=timezone.utc)
    assert not [at for _, at in contacts(result, "in_1") if promised_at <= at < broken.at]
    # And the broken-promise email names the promise, then the policy resumes where it left off
    assert broken.kind == "email" and "promised by 9 October 2026" in broken.subject  # a London debtor: British dates
    steps = [step for step, _ in contacts(result, "in_1")]
    assert steps[:2] == ["courtesy_reminder", "due_notice"] and steps[2].startswith("broken_promise_")
    assert steps[3:] == ["overdue_7", "overdue_15", "call_15", "formal_notice", "final_notice", "referral"]
    released = next(e for e in entries if e.kind == "hold_released")
    assert released.at == broken.at and released.details["hold"] == "promise"


def test_a_kept_promise_ends_collection_without_another_word(tmp_path, default_policy):
    from datetime import date

    result, simulation, _ = run(tmp_path, default_policy, [(datetime(2026, 10, 5, 12, tzinfo=timezone.utc), _promise(date(2026, 10, 9)))],
                                paid="2026-10-08T15:00:00+00:00")
    assert [step for step, _ in contacts(result, "in_1")] == ["courtesy_reminder", "due_notice"]
    assert not any(e.template == "broken_promise" for e in result.logs["in_1"])


def test_a_promise_for_a_past_date_is_refused(tmp_path, default_policy):
    from datetime import date

    from arrears.domain.holds import promise_to_pay

    _, simulation, _ = run(tmp_path, default_policy, [])
    with pytest.raises(ActionRefused) as refused:
        promise_to_pay("in_1", date(2026, 10, 1), FINANCE, simulation.store, simulation.store, simulation.ports.policies,
                       datetime(2026, 10, 5, 12, tzinfo=timezone.utc))
    assert refused.value.code == "invalid_until"


def test_insolvency_stops_every_open_invoice_of_the_customer_and_opens_one_claim_task(tmp_path, default_policy):
    from arrears.domain.holds import declare_insolvency

    # Given one customer with two unpaid invoices and one paid one
    second = ROW.format(n=2, paid="").replace("cus_2", "cus_1")
    paid = ROW.format(n=3, paid="2026-10-02T12:00:00+00:00").replace("cus_3", "cus_1")
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid=""), second, paid))
    declared = datetime(2026, 10, 12, 12, tzinfo=timezone.utc)
    simulation = Simulation(default_policy)
    simulation.add_updates(book_updates(book))
    held: list[str] = []
    simulation.add_action(declared, lambda sim: held.extend(declare_insolvency(
        "cus_1", "administration order 4471 of 2026, High Court", FINANCE, sim.store, sim.store, sim.workflows, sim.clock.at)))
    result = simulation.run(START + timedelta(days=200))
    # Then both open invoices stop at once: nothing after the declaration, workflows stopped
    assert held == ["in_1", "in_2"]
    for invoice_id in held:
        assert not [at for _, at in contacts(result, invoice_id) if at >= declared]
        assert result.logs[invoice_id][-1].kind == "insolvency" and invoice_id not in simulation.running
    # And one task asks for the claim to be filed, with what is owed
    (task,) = [t for t in simulation.store.tasks.values() if t["kind"] == "file_insolvency_claim"]
    assert task["details"]["invoices"] == ["in_1", "in_2"] and task["details"]["claims"] == {"GBP": 500_000}
    # And declaring it again changes nothing
    with pytest.raises(ActionRefused) as again:
        declare_insolvency("cus_1", "again", FINANCE, simulation.store, simulation.store, simulation.workflows, declared)
    assert again.value.code == "nothing_to_hold"


def test_an_invoice_opened_after_the_insolvency_is_held_at_once(tmp_path, default_policy):
    from arrears.domain.holds import declare_insolvency

    # Given a customer declared insolvent before it has any invoice, and an invoice of theirs issued later
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="")))
    simulation = Simulation(default_policy)
    simulation.add_action(START, lambda sim: sim.store.save_customer(book[0].customer))
    simulation.add_action(START, lambda sim: declare_insolvency("cus_1", "administration order 4471 of 2026", FINANCE,
                                                               sim.store, sim.store, sim.workflows, sim.clock.at))
    simulation.add_updates(book_updates(book))
    result = simulation.run(START + timedelta(days=200))
    # Then it is never contacted, is held for insolvency, and a person is asked to add it to the claim
    assert contacts(result, "in_1") == []
    invoice = simulation.store.get_invoice("in_1")
    assert invoice.hold.kind is HoldKind.INSOLVENCY and invoice.status.value == "open"
    assert [e.kind for e in result.logs["in_1"]][-1] == "insolvency"
    (task,) = [t for t in simulation.store.tasks.values() if t["kind"] == "add_to_insolvency_claim"]
    assert task["details"]["balance"] == 250_000
