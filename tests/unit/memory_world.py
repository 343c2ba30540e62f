"""The domain's ports over in-memory adapters, for unit tests: one place that wires them."""

from __future__ import annotations

from datetime import datetime

from arrears.adapters.memory import MemoryArtefacts, MemoryMailer, MemoryPolicies, MemoryStore
from arrears.domain.clock import FixedClock
from arrears.domain.models import Customer, Invoice
from arrears.domain.policy import Policy
from arrears.domain.ports import Ports

SENDER = "collections@northwind.example"


def memory_ports(policies: Policy | MemoryPolicies, *records: Customer | Invoice, at: datetime | None = None,
                 letters_bucket: str = "memory") -> Ports:
    """Ports whose store holds `records`, the clock at `at` (by default the first invoice's issue moment)."""
    store = MemoryStore()
    invoices = [record for record in records if isinstance(record, Invoice)]
    for record in records:
        if isinstance(record, Invoice):
            store.invoices[record.invoice_id] = record
        else:
            store.customers[record.customer_id] = record
    clock_at = at if at is not None else invoices[0].issued_at
    return Ports(store=store, log=store, artefacts=MemoryArtefacts(letters_bucket), mailer=MemoryMailer(),
                 policies=policies if isinstance(policies, MemoryPolicies) else MemoryPolicies(policies),
                 clock=FixedClock(clock_at), sender_email=SENDER)
