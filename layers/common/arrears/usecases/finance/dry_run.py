"""Dry run: what a policy version would do to live invoices, without sending or storing anything.

Each open invoice is run through the policy simulator (the same domain code as the workflow, in
memory, plan-only) from where its collection really is: the steps it has done (sent, or skipped)
are done, so the plan never repeats a message, and a step the version puts on or before the
invoice's last real contact is not sent late either; a step still ahead lands on its date, a past
one is caught up as at any late start (only the latest), and no payment is assumed. The customer's
last real message counts against the policy's minimum gap. An invoice on hold (dispute, promise,
pause, payment plan) or of an insolvent customer is left out and said so: nothing goes to it while
that lasts. Each invoice is also planned the same way on the version it is pinned to, and the
difference (steps added, removed or moved) is reported: what the change would change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from arrears.domain.dunning import plan_for
from arrears.ingestion.billing_changes import InvoiceUpdate, UpdateKind
from arrears.domain.models import ContactEntry, Customer, HoldKind, Invoice
from arrears.domain.policy import Policy
from arrears.usecases.simulator import CONTACT_KINDS, Simulation

# Longer than any step's offset (at most 365 days after due) plus time on the calendar's side.
_HORIZON = timedelta(days=400)
# The messages the policy's gap counts (a call or a person's task is not one).
_MESSAGE_KINDS = ("email", "letter", "referral")


@dataclass(frozen=True)
class PlanChange:
    """One difference between the invoice's current plan and the candidate's."""

    change: str  # added | removed | moved
    step_id: str
    stage: str | None
    at: datetime | None  # under the candidate (None: removed)
    was_at: datetime | None  # under the current plan (None: added)


@dataclass(frozen=True)
class DryRun:
    invoices: int
    contacts: dict[str, list[ContactEntry]]  # invoice -> the contacts the version would make from now on
    excluded: dict[str, str] = field(default_factory=dict)  # invoice -> why it is left out (on hold, insolvent)
    current: dict[str, list[ContactEntry]] = field(default_factory=dict)  # invoice -> its current plan, the same way

    def by_stage(self) -> dict[str, int]:
        return dict(Counter(entry.stage or "none" for entries in self.contacts.values() for entry in entries))

    def changes(self, invoice_id: str) -> list[PlanChange]:
        return plan_changes(self.current.get(invoice_id, []), self.contacts.get(invoice_id, []))


def plan_changes(current: list[ContactEntry], candidate: list[ContactEntry]) -> list[PlanChange]:
    """Steps the candidate adds, removes or moves against the current plan (by step, in time order)."""
    before = {e.step_id: e for e in current if e.step_id}
    after = {e.step_id: e for e in candidate if e.step_id}
    changes = [PlanChange("added", s, e.stage, e.at, None) for s, e in after.items() if s not in before]
    changes += [PlanChange("removed", s, e.stage, None, e.at) for s, e in before.items() if s not in after]
    changes += [PlanChange("moved", s, e.stage, e.at, before[s].at) for s, e in after.items()
                if s in before and before[s].at != e.at]
    return sorted(changes, key=lambda c: (c.at or c.was_at, c.step_id))  # type: ignore[arg-type, return-value]


def left_out(invoice: Invoice, insolvent: bool) -> str | None:
    """Why a dry run plans nothing for the invoice now, or None."""
    if insolvent or (invoice.hold is not None and invoice.hold.kind is HoldKind.INSOLVENCY):
        return "insolvent: the customer is insolvent; the claim goes to the administrator"
    if invoice.hold is not None:
        return f"on hold ({invoice.hold.kind.value}): nothing is sent until the hold ends"
    return None


def dry_run(policy: Policy, book: Iterable[tuple[Invoice, Customer]], now: datetime, *,
            history: Callable[[str], Iterable[ContactEntry]] = lambda invoice_id: (),
            insolvent: Callable[[str], bool] = lambda customer_id: False,
            pinned: Callable[[Invoice], Policy | None] = lambda invoice: None) -> DryRun:
    """`history`: an invoice's contact log; `insolvent`: whether a customer is; `pinned`: the version an
    invoice's collection is on (its current plan; None: the candidate's own current plan is not known)."""
    included: list[tuple[Invoice, Customer, list[ContactEntry]]] = []
    excluded: dict[str, str] = {}
    for invoice, customer in book:
        reason = left_out(invoice, insolvent(customer.customer_id))
        if reason is not None:
            excluded[invoice.invoice_id] = reason
            continue
        included.append((invoice, customer, list(history(invoice.invoice_id))))
    candidate = _plan([(invoice, customer, log, policy) for invoice, customer, log in included], now, pin=False)
    current = _plan([(invoice, customer, log, version) for invoice, customer, log in included
                     if (version := pinned(invoice)) is not None], now, pin=True)
    return DryRun(len(included), candidate, excluded, current)


def _plan(book: list[tuple[Invoice, Customer, list[ContactEntry], Policy]], now: datetime,
          pin: bool) -> dict[str, list[ContactEntry]]:
    """Each invoice planned on its policy from its real progress, all together (the gap is per customer).
    `pin`: each invoice stays on its own policy; otherwise all start on the one policy of the book."""
    if not book:
        return {}
    policies = list({(p.policy_id, p.version): p for *_, p in book}.values())
    simulation = Simulation(policies[0], render=False, policies=policies[1:])
    last_message: dict[str, tuple[ContactEntry, Policy]] = {}
    for invoice, customer, log, policy in book:
        done = set(invoice.completed_steps) | {e.step_id for e in log if e.step_id and e.kind in CONTACT_KINDS}
        contacted = [e for e in log if e.kind in CONTACT_KINDS]
        if contacted:
            # A step the policy puts on or before the last real contact is not sent late.
            done |= {p.step.id for p in plan_for(invoice, customer, policy) if p.at <= contacted[-1].at}
        for message in (e for e in log if e.kind in _MESSAGE_KINDS):
            seen = last_message.get(customer.customer_id)
            if seen is None or message.at > seen[0].at:
                last_message[customer.customer_id] = (message, policy)
        for step_id in done:
            simulation.store.claim_step(invoice.invoice_id, step_id, now)  # done: not logged as skipped again
        pinned = {"policy_id": policy.policy_id, "policy_version": policy.version} if pin else {
            "policy_id": None, "policy_version": None}
        fresh = invoice.model_copy(update={**pinned, "completed_steps": tuple(sorted(done)), "execution_arn": None,
                                           "next_action_at": None, "closed_at": None, "hold": None})
        # Unpinned, every invoice starts on the book's one policy, whatever policy its customer is on.
        debtor = customer if pin else customer.model_copy(update={"policy_id": None})
        simulation.add_updates([(now, InvoiceUpdate(f"dry-run-{invoice.invoice_id}", "dry_run", UpdateKind.OPENED, now,
                                                    fresh, debtor))])
    for customer_id, (message, policy) in last_message.items():
        # The customer's last real message holds the next one back by the policy's gap, as in the stack.
        simulation.store.claim_contact_slot(customer_id, message.invoice_id, message.step_id or "", message.at, policy.contact_gap)
    result = simulation.run(now + _HORIZON)
    return {invoice.invoice_id: [e for e in result.logs.get(invoice.invoice_id, []) if e.kind in CONTACT_KINDS]
            for invoice, *_ in book}
