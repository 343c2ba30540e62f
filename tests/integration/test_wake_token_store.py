"""The workflow's wait for its next step saves its task token and reads the invoice as that save left it (issue #19:
one write with ALL_NEW instead of a write and a re-read). One contract for both adapters: what the save returns is
what a read right after it gives, a hold placed before the save included, so the wait wakes for it."""

from __future__ import annotations

from datetime import timedelta

from arrears.domain.models import Hold, HoldKind
from arrears_local.book import synthetic_book
from arrears_local.portfolio import DEMO_START

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf6vZ0xg+in_1Q00-wait-for-overdue_15"


def _invoice(store):
    invoice = synthetic_book(1, DEMO_START)[0].invoice
    assert store.save_invoice_facts(invoice)
    return invoice


def test_saving_the_wake_token_answers_the_invoice_a_read_after_it_gives(store):
    # Given an open invoice in the store
    invoice = _invoice(store)
    # When the workflow saves the token it waits on
    saved = store.save_wake_token(invoice.invoice_id, TOKEN)
    # Then the answer is the invoice as a read after the save gives it, and the token is the one to take
    assert saved is not None and saved == store.get_invoice(invoice.invoice_id)
    assert (saved.invoice_id, saved.amount_due, saved.hold) == (invoice.invoice_id, invoice.amount_due, None)
    assert store.take_wake_token(invoice.invoice_id) == TOKEN


def test_a_hold_placed_before_the_save_is_in_the_invoice_it_answers(store):
    # Given an invoice the finance team put on hold (a dispute) before the workflow saved its token
    invoice = _invoice(store)
    hold = Hold(kind=HoldKind.DISPUTE, since=DEMO_START + timedelta(days=3), reason="Debtor disputes line 2 (seats)",
                actor="finance:j.keller@arrears.example")
    assert store.set_hold(invoice.invoice_id, hold)
    # When the workflow saves its token
    saved = store.save_wake_token(invoice.invoice_id, TOKEN)
    # Then the invoice it answers carries the hold (the wait wakes at once for it), as a re-read would
    assert saved.hold == hold == store.get_invoice(invoice.invoice_id).hold
