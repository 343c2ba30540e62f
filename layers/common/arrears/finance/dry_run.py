"""Dry run: what a policy version would do to live invoices, without sending or storing anything.

Each open invoice is run through the policy simulator (the same domain code as the workflow, in
memory, plan-only) as if its collection started on that version now: steps already past are
skipped as at any late start (the latest past one is sent at once), later ones land on their
dates, and no payment is assumed. Invoices are pinned to the version they started with, so this
answers "what would this version do" rather than "what will happen".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from arrears.ingest import InvoiceUpdate, UpdateKind
from arrears.models import ContactEntry, Customer, Invoice
from arrears.policy import Policy
from arrears.simulator import CONTACT_KINDS, Simulation

# Longer than any step's offset (at most 365 days after due) plus time on the calendar's side.
_HORIZON = timedelta(days=400)
_COLLECTION_STATE = {"policy_id": None, "policy_version": None, "completed_steps": (), "execution_arn": None,
                     "next_action_at": None, "closed_at": None, "hold": None, "schedule_shift_days": 0}


@dataclass(frozen=True)
class DryRun:
    invoices: int
    contacts: dict[str, list[ContactEntry]]  # invoice -> the contacts the version would make

    def by_stage(self) -> dict[str, int]:
        return dict(Counter(entry.stage or "none" for entries in self.contacts.values() for entry in entries))


def dry_run(policy: Policy, book: Iterable[tuple[Invoice, Customer]], now: datetime) -> DryRun:
    # The candidate is the simulation's default policy, so every invoice is pinned to it.
    simulation = Simulation(policy, render=False)
    count = 0
    for invoice, customer in book:
        fresh = invoice.model_copy(update=_COLLECTION_STATE)
        simulation.add_updates([(now, InvoiceUpdate(f"dry-run-{invoice.invoice_id}", "dry_run", UpdateKind.OPENED, now,
                                                    fresh, customer))])
        count += 1
    result = simulation.run(now + _HORIZON)
    contacts = {invoice_id: [e for e in entries if e.kind in CONTACT_KINDS] for invoice_id, entries in result.logs.items()}
    return DryRun(count, contacts)
