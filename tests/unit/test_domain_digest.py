"""The fast domain decides exactly as before (issue #19): a digest of every log entry of a fixed book.

The book (480 invoices of 120 customers in seven countries, four invoices a customer due within days of
each other, payments early, late and never, disputes, pauses and promises) runs through the policy
simulator, plan only, for 400 days under the default policy as it was then (version 3, kept in
tests/fixtures/policies/default-v3.yaml: version 4's risk bands, discounts, portal links and replies are
meant to decide differently). Every log entry, every invoice's last state
and every workflow's last decision are digested. EXPECTED was computed on `main` before the performance
work changed the domain (commit 7405337), so a speed-up that changes one decision, one timestamp or one
field of one entry fails here.

A change that is MEANT to change what the domain decides (a new policy rule, a new field in an entry)
changes the digest too: check the differences it names, then set EXPECTED to the value this test prints.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

from pathlib import Path

from arrears.domain.policy import load_policy_file
from arrears.usecases.simulator import Simulation
from arrears_local.book import book_invoice, book_updates
from tests.unit.test_policy_properties import _hold_actions

START = datetime(2026, 6, 1, 8, tzinfo=timezone.utc)
UNTIL = START + timedelta(days=400)
COUNTRIES = [("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"), ("US", "USD"), ("NL", "EUR"), ("AU", "AUD"), ("JP", "JPY")]
INVOICES, CUSTOMERS, SEED = 480, 120, 19

EXPECTED = {
    "entries": 4025,
    "digest": "3c016ccb9d15a018fea270a5bebf8fc94b7150c381063967d20a93979074e193",
}


def fixed_book() -> tuple[list, list[tuple[object, tuple[str, int, int]]]]:
    chooser = random.Random(SEED)
    book, holds = [], []
    for index in range(INVOICES):
        number = index % CUSTOMERS
        country, currency = COUNTRIES[number % len(COUNTRIES)]
        issued = START + timedelta(days=chooser.randint(0, 40), hours=chooser.randint(0, 10), minutes=chooser.randint(0, 59))
        due = issued + timedelta(days=chooser.choice([14, 30, 30, 45, 60]))
        paid_after = chooser.choice([None, None, -9, -1, 0, 3, 8, 16, 31, 45, 64, 80, 120])
        paid = "" if paid_after is None else (due + timedelta(days=paid_after, hours=chooser.randint(0, 23))).isoformat()
        item = book_invoice({
            "invoice_id": f"in_digest{index:04d}", "number": f"DG-{index:04d}", "customer_id": f"cus_digest{number:03d}",
            "customer_name": f"Digest Customer {number} Ltd", "customer_email": f"ap{number}@digest{number % 9}.example",
            "country": country, "address_line1": f"{number + 1} Harbour Road", "postal_code": "AB1 2CD", "city": "Porttown",
            "currency": currency, "amount": chooser.randrange(5_000, 4_000_000, 100), "issued_at": issued.isoformat(),
            "due_at": due.isoformat(), "paid_at": paid})
        book.append(item)
        if chooser.random() < 0.15:
            holds.append((item, (chooser.choice(["dispute", "pause", "promise"]), chooser.randint(-5, 70), chooser.randint(2, 30))))
    return book, holds


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def run_fixed_book(policy) -> tuple[int, str, Counter]:
    """(entries, digest, entries by kind; a step covered by another invoice's message counts as `covered`)."""
    book, holds = fixed_book()
    simulation = Simulation(policy, render=False)
    simulation.add_updates(book_updates(book))
    for item, hold in holds:
        _hold_actions(simulation, item, hold)  # placed (and a dispute lifted) as the policy properties place them
    result = simulation.run(UNTIL)
    digest, count, kinds = hashlib.sha256(), 0, Counter()
    for invoice_id in sorted(result.logs):
        for entry in result.logs[invoice_id]:
            digest.update(hashlib.sha256(_canonical(entry.model_dump(mode="json"))).digest())
            count += 1
            kinds["covered" if "covered_by" in entry.details else entry.kind] += 1
        digest.update(_canonical(simulation.store.get_invoice(invoice_id).model_dump(mode="json")))
        digest.update(_canonical(result.decisions.get(invoice_id)))
    return count, digest.hexdigest(), kinds


V3_POLICY = Path(__file__).parents[1] / "fixtures" / "policies" / "default-v3.yaml"


def test_the_fixed_book_gives_the_same_log_digest_as_before_the_fast_domain():
    default_policy = load_policy_file(V3_POLICY)
    # Given the fixed book, when it runs through the simulator (plan only) under the default policy of version 3
    count, digest, kinds = run_fixed_book(default_policy)
    # Then the book is not trivial: contacts of every channel, holds, consolidated messages, payments
    assert {"email", "letter", "call_task", "referral", "covered", "contact_deferred", "payment", "hold_placed",
            "hold_released"} <= set(kinds), kinds
    # And every entry, invoice and decision is exactly what the domain produced before the performance work
    assert {"entries": count, "digest": digest} == EXPECTED, f"new digest: entries={count} digest={digest!r}; kinds {dict(kinds)}"
