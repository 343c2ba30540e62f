"""The ports the domain needs; adapters implement them (DynamoDB/SES/S3 in AWS and
the local runtime, in-memory ones for the policy simulator and unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from arrears.clock import Clock
from arrears.models import Artefact, ContactEntry, Customer, Invoice
from arrears.policy import Policy


class InvoiceStore(Protocol):
    def get_invoice(self, invoice_id: str) -> Invoice | None: ...

    def get_customer(self, customer_id: str) -> Customer | None: ...

    def save_invoice_facts(self, invoice: Invoice) -> bool:
        """Write what the billing platform says of an invoice unless newer facts are stored
        or the stored invoice is terminal; leave the collection state alone. True when written."""
        ...

    def save_customer(self, customer: Customer) -> bool:
        """Write a customer unless a newer version is stored. True when written."""
        ...

    def pin_policy(self, invoice_id: str, policy_id: str, policy_version: int, execution_arn: str | None) -> None: ...

    def save_progress(
        self, invoice_id: str, completed_step: str | None, next_action_at: datetime | None, closed: bool
    ) -> None: ...

    def claim_step(self, invoice_id: str, step_id: str, at: datetime) -> bool:
        """Claim one step of one invoice for sending. True for the first claimant only, ever:
        this is what makes a retried Lambda never send the same contact twice."""
        ...

    def release_step(self, invoice_id: str, step_id: str) -> None:
        """Give a claim back after a send that certainly failed, so a retry may send."""
        ...

    def open_task(self, invoice_id: str, kind: str, due_at: datetime, details: dict[str, Any]) -> str: ...


class ContactLog(Protocol):
    def append(self, invoice_id: str, customer_id: str, at: datetime, **fields: Any) -> ContactEntry: ...

    def entries(self, invoice_id: str) -> list[ContactEntry]: ...


class ArtefactStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str, kind: str) -> Artefact: ...

    def get(self, uri: str) -> bytes: ...


class Mailer(Protocol):
    def send(self, raw_message: bytes, sender: str, recipients: list[str]) -> str:
        """Send a complete MIME message; returns the provider's message id."""
        ...


class PolicyRepository(Protocol):
    def current(self, policy_id: str) -> Policy: ...

    def get(self, policy_id: str, version: int) -> Policy: ...


class WorkflowStarter(Protocol):
    def start(self, invoice_id: str) -> str | None:
        """Start the invoice's workflow (execution named after it); the ARN, or None if it already ran."""
        ...

    def stop(self, invoice_id: str, reason: str) -> None:
        """Stop the invoice's workflow if it is running (a settled invoice needs no more steps)."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything the dunning service touches, passed in so the domain stays pure."""

    store: InvoiceStore
    log: ContactLog
    artefacts: ArtefactStore
    mailer: Mailer
    policies: PolicyRepository
    clock: Clock
    sender_email: str
