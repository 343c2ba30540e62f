"""A book simulated in shards by customer (issue #19): `arrears simulate --workers N`, and the dry run's shards.

Customers are independent: a customer's invoices share its contact gap, its consolidated messages and its
undeliverable addresses, and nothing crosses customers. So a book splits by customer into shards that
simulate apart (in other processes, or other Lambda invocations) and give, merged, what the whole book gives
in one simulation. The shard of a customer is a stable hash of its id (the same in every process and run,
unlike Python's `hash`), so a shard can be recomputed anywhere.

What a shard returns is its `SimulationSummary`: the figures `arrears simulate` prints and, when asked, each
contact as a row; not its logs (a million invoices' log entries do not fit in one process). Message ids are
per simulation (`memory-000001`...), so they are not part of a summary: every figure here is the same for any
number of shards.
"""

from __future__ import annotations

import heapq
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from arrears.domain.policy import Policy
from arrears.ingestion.billing_changes import BalanceAdjustment, BillingChange, CustomerUpdate, DisputeUpdate, InvoiceUpdate, PaymentLink
from arrears.usecases.simulator import Simulation, SimulationResult

# A shard of about this many invoices keeps a process's memory near 2 GB (every log entry is kept while it runs).
INVOICES_PER_SHARD = 50_000
CONTACT_COLUMNS = ("at", "invoice_id", "customer_id", "step_id", "stage", "channel", "recipient", "covered_by")


def shard_of(customer_id: str, shards: int) -> int:
    return zlib.crc32(customer_id.encode("utf-8")) % shards


def split_by_customer(updates: Iterable[tuple[datetime, BillingChange]], shards: int) -> list[list[tuple[datetime, BillingChange]]]:
    """The updates in `shards` lists, each customer's all in one, in their order. A credit note, payment link or
    dispute goes with the customer of the invoice (or payment) it names; one naming nothing known goes to shard 0,
    where, as in one simulation, it finds nothing to change."""
    updates = list(updates)
    customer_of: dict[str, str] = {}  # invoice id and payment id -> customer id
    for _, change in updates:
        if isinstance(change, InvoiceUpdate):
            customer_of[change.invoice.invoice_id] = change.invoice.customer_id
            for payment_id in change.payment_ids:
                customer_of[f"payment:{payment_id}"] = change.invoice.customer_id
    parts: list[list[tuple[datetime, BillingChange]]] = [[] for _ in range(shards)]
    for at, change in updates:
        parts[shard_of(_customer(change, customer_of), shards)].append((at, change))
    return parts


def _customer(change: BillingChange, customer_of: dict[str, str]) -> str:
    if isinstance(change, InvoiceUpdate):
        return change.invoice.customer_id
    if isinstance(change, CustomerUpdate):
        return change.customer.customer_id
    if isinstance(change, (BalanceAdjustment, PaymentLink)):
        return customer_of.get(change.invoice_id, "")
    if isinstance(change, DisputeUpdate):
        return next((customer_of[f"payment:{p}"] for p in change.payment_ids if f"payment:{p}" in customer_of), "")
    return ""


def shard_count(invoices: int, workers: int) -> int:
    """At least one shard a worker; more for a large book, so that each shard's process stays within memory."""
    return max(workers, -(-invoices // INVOICES_PER_SHARD))


@dataclass
class SimulationSummary:
    """What `arrears simulate` reports of a book (or of a shard of it; `merge` adds shards up)."""

    invoices: int = 0
    stage_totals: Counter = field(default_factory=Counter)
    contacts: int = 0
    debtor_emails: int = 0
    agency_emails: int = 0
    referred: list[str] = field(default_factory=list)
    blocked: Counter = field(default_factory=Counter)  # reason -> contacts that could not be made
    deferred: int = 0  # messages that waited for the customer's gap
    superseded: int = 0  # ... of them overtaken by the invoice's next step
    decisions: dict[str, str] = field(default_factory=dict)
    # (sort key, row) per contact, in the order of `SimulationResult.contacts()`, when asked for
    contact_rows: list[tuple[tuple[datetime, str, int], tuple[str, ...]]] = field(default_factory=list)

    @classmethod
    def of(cls, result: SimulationResult, *, with_contacts: bool = False) -> "SimulationSummary":
        contacts = result.contacts()
        entries = [e for log in result.logs.values() for e in log]
        deferred = {(e.invoice_id, e.step_id) for e in entries if e.kind == "contact_deferred"}
        return cls(
            invoices=len(result.logs), stage_totals=Counter(result.stage_totals()), contacts=len(contacts),
            debtor_emails=result.debtor_emails, agency_emails=result.agency_emails, referred=result.referred(),
            blocked=Counter(e.details.get("missing", "") for e in entries if e.kind == "contact_blocked"),
            deferred=len(deferred),
            superseded=sum(1 for e in entries if e.kind == "step_skipped" and (e.invoice_id, e.step_id) in deferred),
            decisions=dict(result.decisions),
            contact_rows=[((e.at, e.invoice_id, e.seq), contact_row(e)) for e in contacts] if with_contacts else [])

    @classmethod
    def merge(cls, parts: Iterable["SimulationSummary"]) -> "SimulationSummary":
        parts = list(parts)
        merged = cls()
        for part in parts:
            merged.invoices += part.invoices
            merged.stage_totals.update(part.stage_totals)
            merged.contacts += part.contacts
            merged.debtor_emails += part.debtor_emails
            merged.agency_emails += part.agency_emails
            merged.blocked.update(part.blocked)
            merged.deferred += part.deferred
            merged.superseded += part.superseded
            merged.decisions.update(part.decisions)
        merged.referred = sorted(i for part in parts for i in part.referred)
        merged.contact_rows = list(heapq.merge(*(part.contact_rows for part in parts), key=lambda pair: pair[0]))
        return merged


def contact_row(entry) -> tuple[str, ...]:
    """One contact as `arrears simulate --contacts` writes it (CONTACT_COLUMNS)."""
    covered_by = entry.details.get("covered_by", {}).get("invoice_id", "")
    return (entry.at.isoformat(), entry.invoice_id, entry.customer_id, entry.step_id, entry.stage, entry.channel,
            entry.recipient or "", covered_by)


def simulate_shard(policy: Policy, updates: list[tuple[datetime, BillingChange]], until: datetime, *, render: bool = False,
                   with_contacts: bool = False) -> SimulationSummary:
    """One shard through its own simulation (what a worker process, or one dry-run shard, runs)."""
    simulation = Simulation(policy, render=render)
    simulation.add_updates(updates)
    return SimulationSummary.of(simulation.run(until), with_contacts=with_contacts)

