"""An inbound message (a debtor's reply, an out-of-office, a delivery-status notification) into the timeline: the
inbound function's use case (docs/replies.md).

SES stores each message it receives for the inbound domain in the inbound bucket; the stored object triggers the
inbound function, which hands its bytes here:
1. once per message (its SHA-256 claimed, released again if anything below fails, so S3's retry does it);
2. kept: the raw message and its attachments as artefacts in the letters bucket (hashed, archived with the entry that
   names them, checked by `arrears audit verify`);
3. classified (arrears.domain.replies.classify): a delivery-status notification goes to the bounce handling
   (arrears.domain.deliverability); an automatic reply or out-of-office is logged (`auto_reply_received`) and pauses
   nothing (an out-of-office's return date may defer the next message: policy `on_reply.defer_to_return_date`);
   anything else is a person's reply;
4. matched (token, In-Reply-To / References, sender) to an invoice; a person's reply there is logged
   (`reply_received`: who, when, subject, the new text, the artefacts), a `read_reply` task opens, and the customer's
   automated messages pause (arrears.domain.reply_pause). Unmatched, or unreadable and unmatched: an `unmatched_reply`
   task for the finance team, with the stored message, and an entry in the unmatched log (invoice `-unmatched`) that
   names it, so the audit archive keeps it too.
Nothing a message says can crash this: unreadable parts are named in the entry and the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from arrears.domain import replies
from arrears.domain.clock import to_iso_z
from arrears.domain.debtor_data import file_stem
from arrears.domain.hash_chain import sha256_hex
from arrears.domain.models import Artefact, Invoice
from arrears.domain.reply_pause import defer_end, pause_end, pause_for_reply
from arrears.domain.ses_events import SesEvent

# The task of a message matched to no invoice has no invoice: it is listed with this in its invoice_id.
UNMATCHED_INVOICE = "-unmatched"
_TASK_EXCERPT = 500
_CLAIM = "received"


@dataclass
class InboundPorts:
    store: Any  # InvoiceStore + TaskStore + ContactLog (DynamoStore)
    index: Any  # MessageIndex + ReplyLookups (DynamoMessageIndex)
    artefacts: Any  # ArtefactStore (the letters bucket)
    policies: Any  # PolicyRepository
    clock: Any
    secrets: Callable[[], list[str]]  # the reply-token key(s), newest first
    domain: str  # the inbound domain
    default_policy_id: str = "default"


def receive_message(raw: bytes, ports: InboundPorts) -> dict[str, Any]:
    """Handle one stored inbound message, once. Returns what became of it (for the function's log)."""
    now = ports.clock.now()
    digest = sha256_hex(raw)
    claim_id = f"INBOUND-{digest}"
    if not ports.index.claim_event(claim_id, _CLAIM, now):
        return {"outcome": "duplicate", "sha256": digest}
    try:
        return _receive(raw, digest, ports, now)
    except Exception:
        ports.index.release_event(claim_id, _CLAIM)  # nothing half-done stays claimed: the retry does it all
        raise


def _receive(raw: bytes, digest: str, ports: InboundPorts, now: datetime) -> dict[str, Any]:
    message = replies.parse_message(raw)
    kind = replies.classify(message)
    if kind == replies.DELIVERY_STATUS:
        outcome = _delivery_status(message, ports)
        if outcome is not None:
            return {"outcome": outcome, "classification": kind, "sha256": digest}
    match = replies.match_reply(message, ports.index, ports.secrets() if ports.domain else [], ports.domain)
    invoice = _invoice_of(match, ports.store)
    folder = f"replies/{file_stem(invoice.invoice_id if invoice else UNMATCHED_INVOICE)}/{digest[:32]}"
    stored = [ports.artefacts.put(f"{folder}/message.eml", raw, "message/rfc822", "reply")]
    for number, attachment in enumerate(message.attachments, start=1):
        stem, dot, extension = attachment.filename.rpartition(".")
        name = f"{file_stem(stem, 'attachment')}.{file_stem(extension, 'bin')}" if dot else file_stem(attachment.filename, "attachment")
        stored.append(ports.artefacts.put(f"{folder}/{number:02d}-{name}", attachment.content,
                                          _content_type(attachment.content_type), "reply_attachment"))
    details = _details(message, kind, match, digest, stored)
    who = message.sender or "unknown sender"
    if invoice is None:
        task_id = ports.store.open_task(UNMATCHED_INVOICE, "unmatched_reply", now, {
            **_task_details(message, stored), "candidates": list(match.candidates), "classification": kind,
            **({"problems": list(message.problems)} if message.unreadable else {})})
        # Logged on the unmatched log (no customer): its entry names the stored message, so the audit archive keeps
        # and hashes it like a matched reply's.
        entry_kind = "reply_received" if _for_a_person(kind, message) else "auto_reply_received"
        ports.store.append(UNMATCHED_INVOICE, "", now, kind=entry_kind, actor=who, channel="email",
                           subject=message.subject or None, artefacts=tuple(stored), details={**details, "task_id": task_id, "candidates": list(match.candidates)})
        return {"outcome": "unmatched", "classification": kind, "task_id": task_id, "sha256": digest}
    customer = ports.store.get_customer(invoice.customer_id)
    if _for_a_person(kind, message) and invoice.is_settled:
        # Nothing of the customer is owed any more: the reply is on the timeline; no task outlives a settlement.
        details["note"] = "the customer owes nothing: no task, nothing paused"
        ports.store.append(invoice.invoice_id, invoice.customer_id, now, kind="reply_received", actor=who, channel="email",
                           subject=message.subject or None, artefacts=tuple(stored), details=details)
        return {"outcome": "reply_received", "classification": kind, "invoice_id": invoice.invoice_id, "sha256": digest}
    if _for_a_person(kind, message):
        task_id = ports.store.open_task(invoice.invoice_id, "read_reply", now, {
            **_task_details(message, stored), "customer_id": invoice.customer_id,
            "customer": customer.name if customer else None,
            "assignee": (customer.account_owner or None) if customer else None,
            **({"problems": list(message.problems)} if message.unreadable else {})})
        until = pause_end(now, _policy_of(invoice, customer, ports), customer) if customer is not None else None
        if until is not None:
            pause = pause_for_reply(ports.store, invoice.customer_id, invoice.invoice_id, task_id, "reply", now, until)
            details["paused_until"] = pause["until"]
        details["task_id"] = task_id
        ports.store.append(invoice.invoice_id, invoice.customer_id, now, kind="reply_received", actor=who, channel="email",
                           subject=message.subject or None, artefacts=tuple(stored), details=details)
        return {"outcome": "reply_received", "classification": kind, "invoice_id": invoice.invoice_id, "task_id": task_id,
                "sha256": digest}
    returns = replies.return_date(message) if kind == replies.OUT_OF_OFFICE else None
    if returns is not None:
        details["return_date"] = returns.isoformat()
        until = defer_end(returns, now, _policy_of(invoice, customer, ports), customer) if customer is not None else None
        if until is not None:
            pause = pause_for_reply(ports.store, invoice.customer_id, invoice.invoice_id, "", "out_of_office", now, until)
            details["deferred_until"] = pause["until"]
    ports.store.append(invoice.invoice_id, invoice.customer_id, now, kind="auto_reply_received", actor=who, channel="email",
                       subject=message.subject or None, artefacts=tuple(stored), details=details)
    return {"outcome": "auto_reply_received", "classification": kind, "invoice_id": invoice.invoice_id, "sha256": digest}


def _for_a_person(kind: str, message: replies.InboundMessage) -> bool:
    """A person's reply, or one nothing could read (a person must): logged as reply_received, with a task."""
    return kind == replies.HUMAN or message.unreadable


def _invoice_of(match: replies.ReplyMatch, store: Any) -> Invoice | None:
    """The matched invoice; when it is settled, the customer's open invoice due first (a reply about a paid invoice
    still reaches a person while anything is owed), else the settled one (logged, no task)."""
    if match.invoice_id is None:
        return None
    invoice = store.get_invoice(match.invoice_id)
    if invoice is None or not invoice.is_settled:
        return invoice
    owed = [other for other in store.invoices_of(invoice.customer_id) if not other.is_settled]
    return owed[0] if owed else invoice


def _policy_of(invoice: Invoice, customer: Any, ports: InboundPorts):
    if invoice.policy_id and invoice.policy_version:
        return ports.policies.get(invoice.policy_id, invoice.policy_version)
    return ports.policies.current((customer.policy_id if customer else None) or ports.default_policy_id)


def _details(message: replies.InboundMessage, kind: str, match: replies.ReplyMatch, digest: str,
             stored: list[Artefact]) -> dict[str, Any]:
    details: dict[str, Any] = {
        "from": message.sender or None, "from_name": message.sender_name or None, "classification": kind,
        "matched_by": match.by, "text": message.text, "sha256": digest, "attachments": len(stored) - 1,
        "message_id": message.message_id or None,
        "sent_at": to_iso_z(message.sent_at) if message.sent_at else None,
    }
    if match.step_id:
        details["in_reply_to_step"] = match.step_id
    if message.unreadable:
        details["unreadable"] = True
        details["problems"] = list(message.problems)
    return {key: value for key, value in details.items() if value is not None}


def _task_details(message: replies.InboundMessage, stored: list[Artefact]) -> dict[str, Any]:
    return {"from": message.sender or None, "subject": message.subject or None, "excerpt": message.text[:_TASK_EXCERPT],
            "message": stored[0].uri, "sha256": stored[0].sha256, "attachments": [a.uri for a in stored[1:]]}


# The attachment types kept as the sender declared them: ones a browser shows inertly or downloads. Any other (HTML,
# SVG, XML, scripts, or a type a browser might run) is stored as application/octet-stream, so the finance API's
# presigned link to it (the console's "open") downloads it rather than rendering it live on the bucket's origin.
_INERT_TYPES = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/heic",
    "text/plain", "text/csv", "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet"})


def _content_type(value: str) -> str:
    """A stored attachment's content type: the sender's when it is an inert one, else application/octet-stream."""
    return value if value in _INERT_TYPES else "application/octet-stream"


def _delivery_status(message: replies.InboundMessage, ports: InboundPorts) -> str | None:
    """A DSN about a message Arrears sent: its failed recipients go to the bounce handling, as SES's own bounce event
    would. None when it names no message of ours (then it is logged like any automatic message, if it matches)."""
    from arrears.domain.deliverability import apply_ses_event

    for original in message.original_message_ids:
        ses_id = original.partition("@")[0]
        ref = ports.index.find(ses_id)
        if ref is None:
            continue
        failed = [r for r in message.delivery_status.get("recipients", []) if r.get("action") in ("failed", "delayed")]
        permanent = any(str(r.get("status", "")).startswith("5") for r in failed)
        occurred = to_iso_z(message.sent_at or ports.clock.now())
        event = SesEvent("Bounce", ses_id, occurred, tuple(r["recipient"] for r in failed if r.get("recipient")), {
            "event": "Bounce", "occurred_at": occurred, "bounce_type": "Permanent" if permanent else "Transient",
            "bounce_sub_type": "General", "source": "delivery-status notification received",
            "recipients": [{k: v for k, v in r.items() if v} for r in failed]})
        return "delivery_status_" + apply_ses_event(event, ports.index, ports.store, ports.store, ports.clock)
    return None
