"""One message per customer on the real state machine (issue #15): a customer with four invoices at different
stages, never paid, under the default policy (v3: consolidation on), on the local runtime.

At each moment its invoices' steps fall due the customer gets one message, carried by the most escalated
invoice and covering the others' steps; every covered invoice's workflow finds its step done and never queues
behind it. The policy simulator, running the same book, gives the same logs entry for entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest

from arrears.domain.policy import load_policy_file
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.simulator import simulate
from arrears_local.demo import book_events, run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to
from tests.e2e.test_lifecycle import ROOT, _comparable

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
DAYS = 120
MESSAGE_KINDS = ("email", "letter", "referral")


def _book():
    """Four never-paid invoices of one customer, due 0, 9, 17 and 26 days apart: different stages at any moment."""
    never = [item for item in sample_portfolio(DEMO_START, 40) if item.behaviour == "never pays"][:4]
    customer = never[0].invoice.customer
    first_due = never[0].invoice.due
    book = []
    for item, days in zip(never, (0, 9, 17, 26)):
        due = first_due + timedelta(days=days)
        invoice = replace(item.invoice, customer=customer, currency=never[0].invoice.currency,
                          created=due - (item.invoice.due - item.invoice.created), due=due)
        book.append(replace(item, invoice=invoice, redelivered=False))
    return book


BOOK = _book()


@pytest.fixture(scope="module")
def run():
    with LocalRuntime(start=DEMO_START) as runtime:
        result = run_book(runtime, BOOK, POLICY, DAYS)
        yield result, runtime.sender_email, len(runtime.sent_emails())


def test_the_customer_gets_one_message_per_step_moment(run):
    book_run, _, sent = run
    assert POLICY.consolidation.enabled and len({item.invoice.customer.customer_id for item in BOOK}) == 1
    entries = [e for log in book_run.logs.values() for e in log if e.kind in MESSAGE_KINDS]
    messages = [e for e in entries if "covered_by" not in e.details]
    covered = [e for e in entries if "covered_by" in e.details]
    # Then some steps were covered by another invoice's message, and each moment has one message
    assert covered, "no step was covered: nothing was consolidated"
    by_moment = defaultdict(set)
    for entry in entries:
        by_moment[entry.at].add(entry.message_id if "covered_by" not in entry.details else entry.details["covered_by"]["message_id"])
    assert all(len(ids) == 1 for ids in by_moment.values()), {at: ids for at, ids in by_moment.items() if len(ids) > 1}
    # And no two messages within the policy's gap, and SES sent exactly the messages (no covered step sent twice)
    moments = sorted(e.at for e in messages)
    assert all(b - a >= POLICY.contact_gap for a, b in zip(moments, moments[1:]))
    debtor_messages = sum(1 for e in messages) + sum(1 for e in messages if "agency_message_id" in e.details)
    assert sent == debtor_messages
    # And every covered entry names a message its carrying invoice logged at that moment
    carried = {(e.invoice_id, e.step_id): e for e in messages}
    for entry in covered:
        by = entry.details["covered_by"]
        assert carried[(by["invoice_id"], by["step_id"])].message_id == by["message_id"]
        assert carried[(by["invoice_id"], by["step_id"])].at == entry.at


def test_a_covered_step_never_waits_behind_its_own_message(run):
    book_run, _, _ = run
    for log in book_run.logs.values():
        done = {e.step_id for e in log if "covered_by" in e.details}
        deferred = [e for e in log if e.kind == "contact_deferred" and e.step_id in done]
        assert not deferred, [(e.step_id, e.at) for e in deferred]


def test_the_simulator_agrees_entry_for_entry(run):
    book_run, sender_email, sent = run
    events, _ = book_events(BOOK, POLICY)
    updates = [(event.at, to_update(event.document())) for event in events]
    result = simulate(POLICY, updates, until=DEMO_START + timedelta(days=DAYS), sender_email=sender_email,
                      reply_to=local_reply_to)
    assert sorted(result.logs) == sorted(book_run.logs)
    for invoice_id, entries in book_run.logs.items():
        assert [_comparable(e) for e in result.logs[invoice_id]] == [_comparable(e) for e in entries], invoice_id
    assert result.emails_sent == sent
