"""In-memory adapters with the same contracts as the AWS ones: unit tests and the policy simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arrears.adapters.memory_behaviour import MemoryBehaviourItems
from arrears.domain.json_values import as_json
from arrears.domain.hash_chain import chain_entry, sha256_hex
from arrears.domain.clock import to_iso_z
from arrears.domain.models import TERMINAL_STATUSES, Artefact, ContactEntry, Customer, Hold, Invoice, InvoiceStatus, RecentContact
from arrears.domain.policy import Policy
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, StepClaim
from arrears.domain import contact_queue as contact_slot, table_keys as keys


class _InvoicesByCustomer(dict):
    """The invoices by id, with each customer's invoice ids kept as they are stored (as DynamoDB's GSI on the
    customer keys them): `invoices_of` reads one customer's instead of scanning the book, which made a
    simulated book's time grow with the square of its size (issue #19)."""

    def __init__(self) -> None:
        super().__init__()
        self.of_customer: dict[str, dict[str, None]] = {}

    def __setitem__(self, invoice_id: str, invoice: Invoice) -> None:
        stored = self.get(invoice_id)
        if stored is not None and stored.customer_id != invoice.customer_id:
            self.of_customer[stored.customer_id].pop(invoice_id, None)
        self.of_customer.setdefault(invoice.customer_id, {})[invoice_id] = None
        super().__setitem__(invoice_id, invoice)

    def __delitem__(self, invoice_id: str) -> None:
        self.of_customer[self[invoice_id].customer_id].pop(invoice_id, None)
        super().__delitem__(invoice_id)

    def pop(self, invoice_id: str, *default: Any) -> Any:
        if invoice_id in self:
            self.of_customer[self[invoice_id].customer_id].pop(invoice_id, None)
        return super().pop(invoice_id, *default)


class MemoryEventClaims:
    """The once-only claim of a message's event (arrears.domain.ses_events.MessageIndex), in a set: the first
    claimant wins until it releases the claim (its handling failed)."""

    def __init__(self) -> None:
        self.claims: set[tuple[str, str]] = set()

    def claim_event(self, message_id: str, claim_id: str, at: datetime) -> bool:
        if (message_id, claim_id) in self.claims:
            return False
        self.claims.add((message_id, claim_id))
        return True

    def release_event(self, message_id: str, claim_id: str) -> None:
        self.claims.discard((message_id, claim_id))


class MemoryStore(MemoryBehaviourItems):
    """InvoiceStore and ContactLog in dictionaries."""

    def __init__(self) -> None:
        super().__init__()
        self.invoices = _InvoicesByCustomer()
        self.customers: dict[str, Customer] = {}
        # (invoice, step) -> its claim: at, owner, holder, phase, expires_at, record (arrears.domain.ports.StepClaim)
        self.claims: dict[tuple[str, str], dict[str, Any]] = {}
        self._claims_of: dict[str, set[str]] = {}  # invoice -> its claimed step ids (a simulated book: no scan)
        self._holders = 0
        self.tasks: dict[str, dict[str, Any]] = {}
        self._task_ids_of: dict[str, list[str]] = {}  # invoice -> its task ids, as DynamoDB's GSI2 keys them
        self.logs: dict[str, list[ContactEntry]] = {}
        self.hold_tokens: dict[str, str] = {}
        self.wake_tokens: dict[str, str] = {}
        self.undeliverable: dict[str, set[str]] = {}
        self.insolvencies: dict[str, dict[str, Any]] = {}
        self.reply_pauses: dict[str, dict[str, Any]] = {}  # customer -> its reply pause (arrears.domain.reply_pause)
        self.contact_slots: dict[str, dict[str, Any]] = {}  # customer -> its contact slot (arrears.domain.contact_queue)
        # Ingestion: customers known only from invoice payloads, platform object versions, payment links, parked changes.
        self.customer_snapshots: set[str] = set()
        self.provider_objects: dict[str, dict[str, Any]] = {}
        self.payment_links: dict[tuple[str, str], str] = {}
        self.parked: dict[str, dict[str, dict[str, Any]]] = {}

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        return self.invoices.get(invoice_id)

    def get_customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def save_invoice_facts(self, invoice: Invoice) -> bool:
        stored = self.invoices.get(invoice.invoice_id)
        if stored is not None:
            recovery = stored.status is InvoiceStatus.UNCOLLECTIBLE and invoice.status is InvoiceStatus.PAID
            if stored.status in TERMINAL_STATUSES and not recovery:
                return False
            if invoice.provider_updated_at < stored.provider_updated_at and invoice.status not in TERMINAL_STATUSES:
                return False
            keep = {"policy_id", "policy_version", "segment", "completed_steps", "execution_arn", "execution_started_at",
                    "next_action_at", "closed_at",
                    "hold", "schedule_shift_days"}
            invoice = invoice.model_copy(update={name: getattr(stored, name) for name in keep})
        if invoice.status in TERMINAL_STATUSES and invoice.closed_at is None:
            # As DynamoStore's `closed_at = if_not_exists(closed_at, provider_updated_at)`: when the platform settled it.
            invoice = invoice.model_copy(update={"closed_at": invoice.provider_updated_at})
        self.invoices[invoice.invoice_id] = invoice
        return True

    def save_customer(self, customer: Customer) -> bool:
        stored = self.customers.get(customer.customer_id)
        if stored is not None and customer.updated_at < stored.updated_at:
            return False
        self.customers[customer.customer_id] = customer
        self.customer_snapshots.discard(customer.customer_id)
        return True

    def save_customer_snapshot(self, customer: Customer) -> bool:
        stored = self.customers.get(customer.customer_id)
        if stored is not None and (customer.customer_id not in self.customer_snapshots or customer.updated_at < stored.updated_at):
            return False
        self.customers[customer.customer_id] = customer
        self.customer_snapshots.add(customer.customer_id)
        return True

    def save_provider_object(self, key: str, at: datetime, state: str, terminal: bool) -> bool:
        stored = self.provider_objects.get(key)
        if stored is not None and (stored["terminal"] or at < stored["at"]):
            return False
        self.provider_objects[key] = {"at": at, "state": state, "terminal": terminal}
        return True

    def get_provider_object(self, key: str) -> dict[str, Any] | None:
        stored = self.provider_objects.get(key)
        return dict(stored) if stored is not None else None

    def link_payment(self, provider: str, payment_id: str, invoice_id: str) -> bool:
        if (provider, payment_id) in self.payment_links:
            return False
        self.payment_links[(provider, payment_id)] = invoice_id
        return True

    def invoice_of_payment(self, provider: str, payment_id: str) -> str | None:
        return self.payment_links.get((provider, payment_id))

    def park_change(self, subject: str, at: datetime, event_id: str, change: dict[str, Any]) -> None:
        self.parked.setdefault(subject, {})[f"{to_iso_z(at)}#{event_id}"] = change

    def parked_changes(self, subject: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted(self.parked.get(subject, {}).items())

    def unpark_change(self, subject: str, key: str) -> None:
        self.parked.get(subject, {}).pop(key, None)

    def pin_policy(self, invoice_id: str, policy_id: str, policy_version: int, execution_arn: str | None,
                   segment: str | None = None, started_at: datetime | None = None) -> None:
        invoice = self.invoices[invoice_id]
        update: dict[str, Any] = {"policy_id": invoice.policy_id or policy_id,
                                  "policy_version": invoice.policy_version or policy_version,
                                  "segment": invoice.segment or segment}
        if execution_arn:
            update["execution_arn"] = execution_arn
            if started_at is not None:
                update["execution_started_at"] = invoice.execution_started_at or started_at
        self.invoices[invoice_id] = invoice.model_copy(update=update)

    def record_renewal(self, invoice_id: str, predecessor_arn: str, successor_arn: str, started_at: datetime) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.execution_arn not in (predecessor_arn, successor_arn):
            return False
        if invoice.execution_arn == predecessor_arn:
            self.invoices[invoice_id] = invoice.model_copy(update={"execution_arn": successor_arn,
                                                                   "execution_started_at": started_at})
        return True

    def save_progress(self, invoice_id: str, completed_step: str | None, next_action_at: datetime | None, closed: bool) -> None:
        invoice = self.invoices[invoice_id]
        update: dict[str, Any] = {}
        if completed_step is not None and completed_step not in invoice.completed_steps:
            update["completed_steps"] = (*invoice.completed_steps, completed_step)
        if closed:
            update["next_action_at"] = None
        elif next_action_at is not None:
            update["next_action_at"] = next_action_at
        if update:  # nothing changes (a step recorded again): no copy of the invoice
            self.invoices[invoice_id] = invoice.model_copy(update=update)

    def set_hold(self, invoice_id: str, hold: Hold) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.status is not InvoiceStatus.OPEN or invoice.hold is not None:
            return False
        self.invoices[invoice_id] = invoice.model_copy(update={"hold": hold})
        self.hold_tokens.pop(invoice_id, None)
        return True

    def clear_hold(self, invoice_id: str, shift_days: int) -> tuple[Hold, str | None] | None:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.hold is None:
            return None
        self.invoices[invoice_id] = invoice.model_copy(
            update={"hold": None, "schedule_shift_days": invoice.schedule_shift_days + shift_days})
        return invoice.hold, self.hold_tokens.pop(invoice_id, None)

    def record_insolvency(self, customer_id: str, notice: str, actor: str, at: datetime) -> bool:
        if customer_id in self.insolvencies:
            return False
        self.insolvencies[customer_id] = {"notice": notice, "actor": actor, "at": to_iso_z(at)}
        return True

    def insolvency_of(self, customer_id: str) -> dict[str, Any] | None:
        return self.insolvencies.get(customer_id)

    def save_reply_pause(self, customer_id: str, pause: dict[str, Any]) -> None:
        self.reply_pauses[customer_id] = dict(pause)

    def reply_pause(self, customer_id: str) -> dict[str, Any] | None:
        pause = self.reply_pauses.get(customer_id)
        return dict(pause) if pause is not None else None

    def end_reply_pause(self, customer_id: str, task_id: str, at: datetime) -> bool:
        pause = self.reply_pauses.get(customer_id)
        if pause is None or pause.get("task_id") != task_id or "ended_at" in pause:
            return False
        pause["ended_at"] = to_iso_z(at)
        return True

    def renew_hold(self, invoice_id: str, until: datetime) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.hold is None:
            return False
        self.invoices[invoice_id] = invoice.model_copy(update={"hold": invoice.hold.model_copy(update={"until": until})})
        self.hold_tokens.pop(invoice_id, None)
        return True

    def save_hold_token(self, invoice_id: str, token: str) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.hold is None:
            return False
        self.hold_tokens[invoice_id] = token
        return True

    def save_wake_token(self, invoice_id: str, token: str) -> Invoice | None:
        self.wake_tokens[invoice_id] = token
        return self.invoices.get(invoice_id)

    def take_wake_token(self, invoice_id: str) -> str | None:
        return self.wake_tokens.pop(invoice_id, None)

    def mark_undeliverable(self, customer_id: str, address: str, reason: str, at: datetime) -> None:
        self.undeliverable.setdefault(customer_id, set()).add(address.strip().lower())

    def undeliverable_addresses(self, customer_id: str) -> set[str]:
        return set(self.undeliverable.get(customer_id, set()))

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        invoices = self.invoices
        return sorted((invoices[i] for i in invoices.of_customer.get(customer_id, ())), key=lambda i: (i.due_at, i.invoice_id))

    def claim_step(self, invoice_id: str, step_id: str, at: datetime) -> bool:
        if (invoice_id, step_id) in self.claims:
            return False
        self.claims[(invoice_id, step_id)] = {"at": at, "phase": PHASE_DONE, "holder": ""}
        self._claims_of.setdefault(invoice_id, set()).add(step_id)
        return True

    def take_step(self, invoice_id: str, step_id: str, owner: str | None, at: datetime, expires_at: datetime) -> StepClaim:
        claim = self.claims.get((invoice_id, step_id))
        if claim is not None and claim["phase"] != PHASE_DONE and (
                (owner is not None and claim.get("owner") == owner) or claim["expires_at"] <= at):
            if claim.get("owner") != owner or owner is None:  # taken over: the old holder's next change fails
                claim.update(owner=owner, holder=self._holder(owner), expires_at=expires_at)
            return _step_claim(claim, mine=True)
        if claim is not None:
            return _step_claim(claim, mine=False)
        claim = {"at": at, "owner": owner, "holder": self._holder(owner), "phase": PHASE_CLAIMED,
                 "expires_at": expires_at, "record": {}}
        self.claims[(invoice_id, step_id)] = claim
        self._claims_of.setdefault(invoice_id, set()).add(step_id)
        return _step_claim(claim, mine=True)

    def _holder(self, owner: str | None) -> str:
        self._holders += 1
        return owner if owner is not None else f"memory-holder-{self._holders}"

    def advance_step(self, invoice_id: str, step_id: str, holder: str, expected: tuple[str, ...], phase: str,
                     record: dict[str, Any] | None = None) -> bool:
        claim = self.claims.get((invoice_id, step_id))
        if claim is None or claim["holder"] != holder or claim["phase"] not in expected:
            return False
        claim["phase"] = phase
        if record is not None:
            claim["record"] = as_json(record)  # stored as DynamoStore stores it: JSON
        return True

    def step_claims(self, invoice_id: str) -> dict[str, StepClaim]:
        claims = ((step_id, self.claims.get((invoice_id, step_id))) for step_id in self._claims_of.get(invoice_id, ()))
        return {step_id: _step_claim(claim, mine=False) for step_id, claim in claims if claim is not None}

    def release_step(self, invoice_id: str, step_id: str, holder: str | None = None) -> None:
        claim = self.claims.get((invoice_id, step_id))
        if claim is not None and (holder is None or (claim["holder"] == holder and claim["phase"] == PHASE_CLAIMED)):
            del self.claims[(invoice_id, step_id)]

    def claim_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, at: datetime,
                           gap: timedelta) -> RecentContact | None:
        self.contact_slots[customer_id], ahead = contact_slot.claim(self.contact_slots.get(customer_id), invoice_id,
                                                                    step_id, at, gap)
        return ahead

    def reserve_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, moment: datetime, at: datetime) -> bool:
        slot, reserved = contact_slot.reserve(self.contact_slots.get(customer_id), invoice_id, step_id, moment, at)
        if slot is not None:
            self.contact_slots[customer_id] = slot
        return reserved

    def release_contact_reservation(self, customer_id: str, invoice_id: str, at: datetime) -> None:
        slot = contact_slot.release(self.contact_slots.get(customer_id), invoice_id, at)
        if slot is not None:
            self.contact_slots[customer_id] = slot

    def open_task(self, invoice_id: str, kind: str, due_at: datetime, details: dict[str, Any]) -> str:
        task_id = keys.task_id(invoice_id, kind, to_iso_z(due_at), details)
        if task_id not in self.tasks:
            self._task_ids_of.setdefault(invoice_id, []).append(task_id)
        self.tasks[task_id] = {"task_id": task_id, "invoice_id": invoice_id, "kind": kind, "due_at": due_at, "details": details,
                               "status": "open"}
        return task_id

    def write_off(self, invoice_id: str, at: datetime) -> bool:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.status is not InvoiceStatus.OPEN:
            return False
        self.invoices[invoice_id] = invoice.model_copy(update={"status": InvoiceStatus.UNCOLLECTIBLE, "closed_at": at})
        return True

    def open_tasks_of(self, invoice_id: str) -> list[dict[str, Any]]:
        # One invoice's tasks, never all of them: a simulated book settles every invoice (linear, not quadratic).
        tasks = (self.tasks[task_id] for task_id in self._task_ids_of.get(invoice_id, ()))
        return [dict(task) for task in tasks if task["status"] == "open"]

    def close_task(self, task_id: str, at: datetime, actor: str, note: str, status: str = "done") -> dict[str, Any] | None:
        task = self.tasks.get(task_id)
        if task is None or task["status"] != "open":
            return None
        task.update(status=status, closed_at=at, closed_by=actor, note=note)
        return dict(task)

    def append(self, invoice_id: str, customer_id: str, at: datetime, **fields: Any) -> ContactEntry:
        log = self.logs.setdefault(invoice_id, [])
        entry = chain_entry(log[-1] if log else None, at, invoice_id=invoice_id, customer_id=customer_id, **fields)
        log.append(entry)
        return entry

    def entries(self, invoice_id: str) -> list[ContactEntry]:
        return list(self.logs.get(invoice_id, []))


def _step_claim(claim: dict[str, Any], mine: bool) -> StepClaim:
    return StepClaim(phase=claim["phase"], mine=mine, holder=claim["holder"], owner=claim.get("owner"),
                     expires_at=claim.get("expires_at"), claimed_at=claim.get("at"), record=dict(claim.get("record") or {}))


class MemoryArtefacts:
    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str, kind: str) -> Artefact:
        self.objects[key] = body
        return Artefact(kind=kind, uri=f"s3://{self.bucket}/{key}", sha256=sha256_hex(body), content_type=content_type)

    def get(self, uri: str) -> bytes:
        return self.objects[uri.removeprefix(f"s3://{self.bucket}/")]


@dataclass
class MemoryMailer:
    sent: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    def send(self, raw_message: bytes, sender: str, recipients: list[str]) -> str:
        self.sent.append((sender, recipients, raw_message))
        return f"memory-{len(self.sent):06d}"


class MemoryPolicies:
    def __init__(self, *policies: Policy) -> None:
        self.versions = {(p.policy_id, p.version): p for p in policies}

    def current(self, policy_id: str) -> Policy:
        versions = [v for (pid, v) in self.versions if pid == policy_id]
        if not versions:
            raise LookupError(f"policy {policy_id!r} has no published version")
        return self.versions[(policy_id, max(versions))]

    def get(self, policy_id: str, version: int) -> Policy:
        return self.versions[(policy_id, version)]
