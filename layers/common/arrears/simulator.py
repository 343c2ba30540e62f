"""The policy simulator: a whole book through the dunning domain, in memory, no ASL interpreter.

It calls exactly what the workflow function calls (`dunning.start_collection`,
`dunning.run_due_steps`) and what the webhooks function calls
(`ingest.apply_invoice_update`), on in-memory adapters, and replaces the state
machine with a discrete-event loop that keeps its semantics: one workflow per
invoice, started when the invoice opens, woken at each decision's `next_at`,
stopped when the invoice is settled; an event at the same instant as a wake-up
is applied first (never contact a payer). A test runs one book through this and
through the local runtime and requires the same contact logs.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from arrears import dunning
from arrears.clock import FixedClock, parse_iso
from arrears.ingest import InvoiceUpdate, apply_invoice_update
from arrears.models import ContactEntry
from arrears.policy import Policy
from arrears.ports import Ports
from arrears.store.memory import MemoryArtefacts, MemoryMailer, MemoryPolicies, MemoryStore

CONTACT_KINDS = ("email", "letter", "call_task", "referral")
# At one instant: billing events first, then workflow starts, then wake-ups.
_EVENT, _START, _WAKE = 0, 1, 2


@dataclass
class SimulationResult:
    logs: dict[str, list[ContactEntry]]
    decisions: dict[str, str] = field(default_factory=dict)  # invoice -> last workflow status
    emails_sent: int = 0

    def contacts(self) -> list[ContactEntry]:
        return sorted((e for entries in self.logs.values() for e in entries if e.kind in CONTACT_KINDS),
                      key=lambda e: (e.at, e.invoice_id, e.seq))

    def stage_totals(self) -> dict[str, int]:
        return dict(Counter(e.stage for e in self.contacts() if e.stage))

    def referred(self) -> list[str]:
        return sorted({e.invoice_id for e in self.contacts() if e.kind == "referral"})


class _Workflows:
    """WorkflowStarter for the loop: a start or stop request becomes a scheduled event."""

    def __init__(self, simulation: "Simulation") -> None:
        self.simulation = simulation
        self.started: set[str] = set()

    def start(self, invoice_id: str) -> str | None:
        if invoice_id in self.started:
            return None  # as StartExecution with the invoice id as name
        self.started.add(invoice_id)
        self.simulation.schedule(self.simulation.clock.at, _START, invoice_id)
        return f"simulated:{invoice_id}"

    def stop(self, invoice_id: str, reason: str) -> None:
        self.simulation.running.discard(invoice_id)


class Simulation:
    def __init__(self, policy: Policy, sender_email: str = "collections@arrears.invalid", *, policies: Iterable[Policy] = ()) -> None:
        self.store = MemoryStore()
        self.clock = FixedClock(datetime.min)
        self.mailer = MemoryMailer()
        self.ports = Ports(store=self.store, log=self.store, artefacts=MemoryArtefacts("simulation"), mailer=self.mailer,
                           policies=MemoryPolicies(policy, *policies), clock=self.clock, sender_email=sender_email)
        self.default_policy_id = policy.policy_id
        self.workflows = _Workflows(self)
        self.running: set[str] = set()
        self.seen_events: set[str] = set()
        self._queue: list[tuple[datetime, int, int, object]] = []
        self._order = itertools.count()

    def schedule(self, at: datetime, kind: int, payload: object) -> None:
        heapq.heappush(self._queue, (at, kind, next(self._order), payload))

    def add_updates(self, updates: Iterable[tuple[datetime, InvoiceUpdate]]) -> None:
        for at, update in updates:
            self.schedule(at, _EVENT, update)

    def run(self, until: datetime) -> SimulationResult:
        decisions: dict[str, str] = {}
        while self._queue and self._queue[0][0] <= until:
            at, kind, _, payload = heapq.heappop(self._queue)
            self.clock.at = at
            if kind == _EVENT:
                update: InvoiceUpdate = payload  # type: ignore[assignment]
                if update.event_id in self.seen_events:
                    continue  # a redelivery: the webhook's idempotency answers it without effect
                self.seen_events.add(update.event_id)
                apply_invoice_update(update, self.store, self.store, self.workflows, at)
                continue
            invoice_id: str = payload  # type: ignore[assignment]
            if kind == _START:
                self.running.add(invoice_id)
                decision = dunning.start_collection(invoice_id, f"simulated:{invoice_id}", self.default_policy_id, self.ports)
            elif invoice_id in self.running:
                decision = dunning.run_due_steps(invoice_id, self.ports)
            else:
                continue  # stopped while waiting
            decisions[invoice_id] = decision.status
            if decision.status == "active" and decision.next_at:
                self.schedule(parse_iso(decision.next_at), _WAKE, invoice_id)
            else:
                self.running.discard(invoice_id)
        return SimulationResult(logs={i: self.store.entries(i) for i in self.store.invoices}, decisions=decisions,
                                emails_sent=len(self.mailer.sent))


def simulate(policy: Policy, updates: Iterable[tuple[datetime, InvoiceUpdate]], until: datetime,
             sender_email: str = "collections@arrears.invalid") -> SimulationResult:
    """`sender_email` matters only for byte-equal emails (their From header): pass the stack's SenderEmail."""
    simulation = Simulation(policy, sender_email)
    simulation.add_updates(updates)
    return simulation.run(until)
