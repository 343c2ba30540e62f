"""A dry run plans from each invoice's real progress, leaves held and insolvent invoices out, and says what
a version would change (issue 12)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from arrears.usecases.finance.dry_run import dry_run
from arrears.domain.models import Hold, HoldKind
from arrears.domain.policy import parse_policy_yaml
from arrears.usecases.simulator import CONTACT_KINDS, Simulation
from arrears_local.book import book_updates, synthetic_book

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
REFERRAL = "      - {id: referral, stage: referral, offset_days: 90, channel: referral, template: referral_notice, tone: formal}\n"
OVERDUE_15 = "      - {id: overdue_15, stage: overdue_reminder, offset_days: 15,"


def firmer(root, policy):
    """A draft of the next version: the second reminder at +20 instead of +15, and no referral."""
    text = (root / "policies" / "default.yaml").read_text(encoding="utf-8")
    assert REFERRAL in text and OVERDUE_15 in text
    moved = "      - {id: overdue_15, stage: overdue_reminder, offset_days: 20,"
    return parse_policy_yaml(text.replace(REFERRAL, "").replace(OVERDUE_15, moved)
                             .replace(f"version: {policy.version}", f"version: {policy.version + 1}"))


def live_book(default_policy, days: int):
    """Three open invoices of three customers in their real collection on the shipped policy, the first
    `days` after its due date."""
    book = synthetic_book(3, START)
    simulation = Simulation(default_policy, render=False)
    simulation.add_updates(book_updates(book))
    now = book[0].invoice.due_at + timedelta(days=days)
    simulation.run(now)
    invoices = [simulation.store.get_invoice(item.invoice.invoice_id) for item in book]
    return simulation, [(invoice, item.customer) for invoice, item in zip(invoices, book)], now


def test_a_dry_run_starts_from_each_invoices_real_progress_and_never_repeats_a_step(root, default_policy):
    # Given an invoice 40 days past due: courtesy, due notice, two reminders and the formal notice sent
    simulation, book, now = live_book(default_policy, 40)
    invoice, customer = book[0]
    log = simulation.store.entries(invoice.invoice_id)
    sent = {e.step_id for e in log if e.kind in CONTACT_KINDS}
    assert {"due_notice", "overdue_7", "overdue_15", "formal_notice"} <= sent
    # When the shipped version and a firmer draft are dry-run on it
    history = simulation.store.entries
    pinned = lambda i: default_policy  # noqa: E731 - every invoice of the book is on the shipped version
    same = dry_run(default_policy, [(invoice, customer)], now, history=history, pinned=pinned)
    draft = dry_run(firmer(root, default_policy), [(invoice, customer)], now, history=history, pinned=pinned)
    # Then neither plans a step the invoice has already had, and every contact is from now on
    for result in (same, draft):
        planned = result.contacts[invoice.invoice_id]
        assert planned and not {e.step_id for e in planned} & sent, planned
        assert all(e.at >= now for e in planned)
    # And the shipped version changes nothing against the invoice's current plan
    assert same.changes(invoice.invoice_id) == []
    # And the draft says what it changes: the referral goes; the reminder at +20 is past and already had at +15
    changes = {(c.change, c.step_id) for c in draft.changes(invoice.invoice_id)}
    assert changes == {("removed", "referral")}, draft.changes(invoice.invoice_id)


def test_a_draft_that_moves_a_step_still_ahead_reports_it_moved(root, default_policy):
    # Given an invoice 10 days past due: due notice and first reminder sent, the second reminder (+15) still ahead
    simulation, book, now = live_book(default_policy, 10)
    invoice, customer = book[0]
    assert "overdue_15" not in {e.step_id for e in simulation.store.entries(invoice.invoice_id) if e.kind in CONTACT_KINDS}
    # When the firmer draft is dry-run
    result = dry_run(firmer(root, default_policy), [(invoice, customer)], now, history=simulation.store.entries,
                     pinned=lambda i: default_policy)
    # Then the second reminder is reported moved five days later, and the referral removed
    moved = next(c for c in result.changes(invoice.invoice_id) if c.step_id == "overdue_15")
    assert moved.change == "moved" and (moved.at.date() - moved.was_at.date()).days >= 5
    assert ("removed", "referral") in {(c.change, c.step_id) for c in result.changes(invoice.invoice_id)}


def test_held_and_insolvent_invoices_are_left_out_and_say_why(default_policy):
    # Given three open invoices: one disputed, one of a customer in insolvency, one in ordinary collection
    simulation, book, now = live_book(default_policy, 10)
    (disputed, c1), (insolvent, c2), (ordinary, c3) = book
    disputed = disputed.model_copy(update={"hold": Hold(kind=HoldKind.DISPUTE, since=now - timedelta(days=2),
                                                        reason="goods not received", actor="finance")})
    # When the book is dry-run
    result = dry_run(default_policy, [(disputed, c1), (insolvent, c2), (ordinary, c3)], now, history=simulation.store.entries,
                     insolvent=lambda customer_id: customer_id == c2.customer_id, pinned=lambda i: default_policy)
    # Then only the ordinary invoice is planned; the others are listed with the reason nothing goes to them
    assert result.invoices == 1 and set(result.contacts) == {ordinary.invoice_id}
    assert result.excluded[disputed.invoice_id].startswith("on hold (dispute)")
    assert result.excluded[insolvent.invoice_id].startswith("insolvent")
