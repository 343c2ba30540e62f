"""The ports the domain needs; adapters implement them (DynamoDB/SES/S3 in AWS and
the local runtime, in-memory ones for the policy simulator and unit tests)."""

from __future__ import annotations

from collections.abc import Sequence

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Protocol

from arrears.domain.clock import Clock
from arrears.domain.models import Artefact, ContactEntry, Customer, Hold, Invoice, RecentContact
from arrears.domain.policy import Policy

if TYPE_CHECKING:  # the renderers import Jinja, babel and fpdf2: only when a contact is rendered
    from arrears.rendering.emails import RenderedEmail
    from arrears.domain.notices import NoticeContext


# A step's claim: who holds it and how far its contact got. "claimed": nothing handed to the provider yet;
# "sending": handed to SES, its answer not recorded (it may or may not have gone out); "sent": what the log entry
# says is recorded (with the provider's message ids); "done": logged. Claims written before phases read as "done".
PHASE_CLAIMED, PHASE_SENDING, PHASE_SENT, PHASE_DONE = "claimed", "sending", "sent", "done"


@dataclass(frozen=True)
class StepClaim:
    """A step's claim as one caller found it (arrears.domain.dunning's send protocol, docs/architecture.md)."""

    phase: str
    mine: bool  # held by this caller now: its own (same owner), newly taken, or taken over once expired
    holder: str = ""  # the id its phase changes are conditional on: the owner, or a new id for an anonymous caller
    owner: str | None = None
    expires_at: datetime | None = None
    claimed_at: datetime | None = None  # when the step was first claimed: the moment its retries act at too
    record: dict[str, Any] = field(default_factory=dict)  # what the send recorded (JSON values)


class DeliveryRefused(Exception):
    """The provider answered that it did not take the message: nothing went out, a retry may send it.
    (A timeout or a lost answer is not this: the message may have gone.)"""


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

    def pin_policy(self, invoice_id: str, policy_id: str, policy_version: int, execution_arn: str | None,
                   segment: str | None = None, started_at: datetime | None = None) -> None:
        """Pin the policy version (and the segment of it) collection starts on; what is pinned stays pinned.
        `started_at`: when the execution `execution_arn` started (kept from the first pin)."""
        ...

    def record_renewal(self, invoice_id: str, predecessor_arn: str, successor_arn: str, started_at: datetime) -> bool:
        """The successor execution carries the invoice on from `started_at`: written only over the predecessor's
        ARN (True also when it is recorded already; False when another execution carries the invoice)."""
        ...

    def save_progress(
        self, invoice_id: str, completed_step: str | None, next_action_at: datetime | None, closed: bool
    ) -> None: ...

    def claim_step(self, invoice_id: str, step_id: str, at: datetime) -> bool:
        """Claim one step of one invoice for sending. True for the first claimant only, ever:
        this is what makes a retried Lambda never send the same contact twice."""
        ...

    def take_step(self, invoice_id: str, step_id: str, owner: str | None, at: datetime, expires_at: datetime) -> StepClaim:
        """Take a step for sending: a new claim, or one `owner` (not None) holds already, or one whose holder's
        `expires_at` has passed (taken over: the holder's next phase change fails) unless it is "done". The claim
        as found: `mine` tells whether this caller holds it now; its `phase`, what is left to do."""
        ...

    def advance_step(self, invoice_id: str, step_id: str, holder: str, expected: tuple[str, ...], phase: str,
                     record: dict[str, Any] | None = None) -> bool:
        """Move the claim `holder` holds to `phase` (with `record`, when given) if it is still in one of the
        `expected` phases (a conditional write: of two processes of one owner, one wins). False when the claim
        was lost (taken over, released, or moved on by the other process)."""
        ...

    def step_claims(self, invoice_id: str) -> dict[str, StepClaim]:
        """The invoice's step claims by step id, as any caller sees them (`mine` False)."""
        ...

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        """Every invoice of one customer, by due date (a key query, never a Scan)."""
        ...

    def mark_undeliverable(self, customer_id: str, address: str, reason: str, at: datetime) -> None: ...

    def undeliverable_addresses(self, customer_id: str) -> set[str]:
        """Lower-cased addresses of this customer that bounced for good or complained."""
        ...

    def set_hold(self, invoice_id: str, hold: Hold) -> bool:
        """Put an open invoice on hold; False when it is not open or already on hold."""
        ...

    def clear_hold(self, invoice_id: str, shift_days: int) -> tuple[Hold, str | None] | None:
        """Lift the hold, move pending steps by shift_days; (lifted hold, parked task token) or None."""
        ...

    def record_insolvency(self, customer_id: str, notice: str, actor: str, at: datetime) -> bool:
        """Remember a customer's insolvency; False when it was recorded before."""
        ...

    def insolvency_of(self, customer_id: str) -> dict[str, Any] | None:
        """The recorded insolvency (notice, actor, at) or None."""
        ...

    def save_reply_pause(self, customer_id: str, pause: dict[str, Any]) -> None:
        """Pause the customer's automated messages for a reply (`since`, `until`, `task_id`, `invoice_id`, `reason`)."""
        ...

    def reply_pause(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's reply pause (as saved), or None."""
        ...

    def end_reply_pause(self, customer_id: str, task_id: str, at: datetime) -> bool:
        """Lift the pause the task `task_id` opened (its `ended_at` set); False when none is on or another reply's is."""
        ...

    def renew_hold(self, invoice_id: str, until: datetime) -> bool:
        """Move the end of the current hold (a payment plan's next checkpoint); False when there is none."""
        ...

    def save_hold_token(self, invoice_id: str, token: str) -> bool:
        """Remember the parked workflow's task token; False when the hold is already lifted."""
        ...

    def save_wake_token(self, invoice_id: str, token: str) -> Invoice | None:
        """Remember the token the workflow waits on until its next step; the invoice as the save left it (one
        atomic write and read: a hold placed before the save is in it, one placed after finds the token)."""
        ...

    def take_wake_token(self, invoice_id: str) -> str | None:
        """Remove and return the waiting workflow's token (None when it is not waiting on one)."""
        ...

    def release_step(self, invoice_id: str, step_id: str, holder: str | None = None) -> None:
        """Give a claim back after a send that certainly failed, so a retry may send. With `holder`: only the claim
        it holds, and only while nothing was handed to the provider (phase "claimed")."""
        ...

    def claim_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, at: datetime,
                           gap: timedelta) -> RecentContact | None:
        """Claim the customer's next message, across all its invoices (arrears.domain.contact_queue): None when
        this step may send now; otherwise the message it waits `gap` behind (the last sent, or the one next in
        line). A conditional write: of two invoices contacting one customer at once, one waits."""
        ...

    def reserve_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, moment: datetime, at: datetime) -> bool:
        """Put a refused message in the customer's queue at `moment` (keeping the place it has). True when it is
        first in line."""
        ...

    def release_contact_reservation(self, customer_id: str, invoice_id: str, at: datetime) -> None:
        """Drop a settled invoice's place in the customer's queue: its message will never come."""
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

    def resume(self, task_token: str) -> None:
        """Wake a workflow parked on a hold (SendTaskSuccess); a stale token is ignored."""
        ...

    def stop(self, invoice_id: str, reason: str) -> None:
        """Stop the invoice's workflow if it is running (a settled invoice needs no more steps)."""
        ...


class WorkflowRenewer(Protocol):
    """A successor execution for an invoice whose execution nears Step Functions' one-year limit."""

    def successor(self, invoice_id: str, execution_arn: str) -> tuple[str, int]:
        """The successor of the execution `execution_arn`: its ARN and renewal number (deterministic)."""
        ...

    def start_renewal(self, invoice_id: str, renewal: int) -> None:
        """Start that successor (its input says `renewal`); a second start of it changes nothing."""
        ...


class Renderer(Protocol):
    """What a contact says, turned into what is sent. `FullRenderer` (the default everywhere a
    contact goes out) renders every email, letter and package; the policy simulator's plan-only
    renderer runs the same completeness checks and produces no content (a dry run's log then has
    the same entries, without artefact hashes)."""

    def email(self, notice: NoticeContext) -> RenderedEmail: ...

    def letter(self, notice: NoticeContext) -> bytes: ...

    def posted_letter(self, notice: NoticeContext) -> bytes:
        """The letter posted when no email reaches the debtor: the step's message on paper."""
        ...

    def statement(self, notice: NoticeContext) -> bytes:
        """A customer's statement of account (notices.build_statement_notice), as a PDF."""
        ...

    def compose(self, rendered: RenderedEmail, *, sender: str, sender_name: str, recipient: str, recipient_name: str,
                reference: str, reply_to: str, sent_at: datetime,
                attachments: tuple[tuple[str, bytes, str], ...] = ()) -> bytes: ...

    def referral_package(self, invoice: Invoice, customer: Customer, policy: Policy, notice: NoticeContext,
                         ports: Ports) -> bytes: ...

    def customer_referral_package(self, invoices: Sequence[Invoice], customer: Customer, policy: Policy,
                                  notice: NoticeContext, ports: Ports) -> bytes:
        """The invoices of one customer referred together, as one package (`notice`: the consolidated notice)."""
        ...


class EventPublisher(Protocol):
    """Events other systems act on (EventBridge): a credit limit crossed, for a SaaS to hold new orders."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def full_renderer() -> Renderer:
    """The default renderer (`arrears.rendering.renderer.FullRenderer`), imported when a Ports is made without one:
    the domain names the port, rendering implements it."""
    from arrears.rendering.renderer import FullRenderer

    return FullRenderer()


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
    renderer: Renderer = field(default_factory=full_renderer)
    events: EventPublisher | None = None  # None: nothing is published (the simulator, a stack without a bus)
    # The Reply-To of a message sent for (invoice id, step id): a signed reply address when the stack receives
    # replies (arrears.domain.replies), else None and the creditor's own address is the Reply-To.
    reply_to: Callable[[str, str], str | None] | None = None
    # The debtor's portal link for (customer id, days the link opens) a message carries (docs/portal.md): None when
    # the stack makes no links (PORTAL_PUBLIC_URL empty); the policy's `portal.enabled` decides per customer.
    portal_link: Callable[[str, int], str | None] | None = None
