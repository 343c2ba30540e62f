"""SES delivery, bounce and complaint events in the contact log (domain; the DynamoDB MessageIndex is
`arrears.adapters.message_index`).

The configuration set publishes each event to SNS; the ses_events function hands
every notification here. The email's SES message id leads to its invoice through
the lookup item `MESSAGE#<id> / META`, which the contact log writes when it
records an entry with a message id (the email itself). SNS delivers at least
once, so each event is claimed once on (message id, event type, event time,
recipients) before it is appended: a redelivered notification appends nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from arrears.domain.clock import Clock
    from arrears.domain.models import ContactEntry
    from arrears.domain.ports import ContactLog

SES_ACTOR = "amazon-ses"
REFERENCE_HEADER = "X-Arrears-Reference"
KINDS = {"Delivery": "email_delivered", "Bounce": "email_bounced", "Complaint": "email_complained"}
MESSAGE_PREFIX = "MESSAGE#"
LOOKUP_SK = "META"


def message_pk(message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{message_id}"


def message_lookup_item(entry: ContactEntry) -> dict[str, Any]:
    """The item that leads from an SES message id to the invoice whose entry recorded it."""
    item = {"pk": message_pk(entry.message_id or ""), "sk": LOOKUP_SK, "entity": "message", "invoice_id": entry.invoice_id,
            "customer_id": entry.customer_id, "seq": entry.seq, "kind": entry.kind}
    if entry.step_id:
        item["step_id"] = entry.step_id
    return item


@dataclass(frozen=True)
class SesEvent:
    event_type: str  # Delivery | Bounce | Complaint
    message_id: str
    occurred_at: str  # the event's own timestamp (SES's clock)
    recipients: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)
    ours: bool = False  # the email carries Arrears' reference header (or SES truncated the headers)

    @property
    def kind(self) -> str:
        return KINDS[self.event_type]

    @property
    def claim_id(self) -> str:
        recipients = hashlib.sha256(",".join(sorted(self.recipients)).encode()).hexdigest()[:16]
        return f"{self.event_type}#{self.occurred_at}#{recipients}"


def parse_ses_notification(payload: dict[str, Any]) -> SesEvent | None:
    """An SES event-publishing notification (or a classic identity notification); None for other event types."""
    event_type = payload.get("eventType") or payload.get("notificationType")
    mail = payload.get("mail") or {}
    if event_type not in KINDS or not mail.get("messageId"):
        return None
    body = payload.get(event_type[0].lower() + event_type[1:]) or {}
    headers = {str(h.get("name", "")).lower(): h.get("value") for h in mail.get("headers") or () if isinstance(h, dict)}
    ours = REFERENCE_HEADER.lower() in headers or bool(mail.get("headersTruncated"))
    details: dict[str, Any] = {"event": event_type, "occurred_at": body.get("timestamp"),
                               "reference": headers.get(REFERENCE_HEADER.lower())}
    if event_type == "Delivery":
        recipients = tuple(body.get("recipients") or ())
        details |= {"recipients": list(recipients), "smtp_response": body.get("smtpResponse"),
                    "processing_time_ms": body.get("processingTimeMillis"), "reporting_mta": body.get("reportingMTA")}
    elif event_type == "Bounce":
        bounced = [r for r in body.get("bouncedRecipients") or () if isinstance(r, dict)]
        recipients = tuple(str(r.get("emailAddress")) for r in bounced)
        details |= {"bounce_type": body.get("bounceType"), "bounce_sub_type": body.get("bounceSubType"),
                    "recipients": [_clean({"email": r.get("emailAddress"), "action": r.get("action"), "status": r.get("status"),
                                           "diagnostic_code": r.get("diagnosticCode")}) for r in bounced],
                    "feedback_id": body.get("feedbackId"), "reporting_mta": body.get("reportingMTA")}
    else:
        complained = [r for r in body.get("complainedRecipients") or () if isinstance(r, dict)]
        recipients = tuple(str(r.get("emailAddress")) for r in complained)
        details |= {"recipients": list(recipients), "feedback_type": body.get("complaintFeedbackType"),
                    "feedback_id": body.get("feedbackId"), "user_agent": body.get("userAgent")}
    occurred_at = str(body.get("timestamp") or mail.get("timestamp") or "")
    return SesEvent(event_type, str(mail["messageId"]), occurred_at, recipients, _clean(details), ours)


@dataclass(frozen=True)
class MessageRef:
    invoice_id: str
    customer_id: str
    step_id: str | None = None


class MessageIndex(Protocol):
    def find(self, message_id: str) -> MessageRef | None: ...

    def claim_event(self, message_id: str, claim_id: str, at: datetime) -> bool:
        """True for the first claimant of this event only."""
        ...

    def release_event(self, message_id: str, claim_id: str) -> None: ...


class MessageNotYetLogged(LookupError):
    """An Arrears email whose contact-log entry is not there (yet): raise, so the invocation is retried."""


def record_ses_event(event: SesEvent, index: MessageIndex, log: ContactLog, clock: Clock) -> str:
    """Append the event to the log of the email's invoice, once. Returns recorded | duplicate | unknown_message."""
    ref = index.find(event.message_id)
    if ref is None:
        if event.ours:
            raise MessageNotYetLogged(f"SES message {event.message_id} has no contact-log entry yet")
        return "unknown_message"  # sent by something else through the same configuration set
    now = clock.now()
    if not index.claim_event(event.message_id, event.claim_id, now):
        return "duplicate"
    try:
        log.append(ref.invoice_id, ref.customer_id, now, kind=event.kind, actor=SES_ACTOR, channel="email",
                   step_id=ref.step_id, message_id=event.message_id, recipient=", ".join(event.recipients) or None,
                   details=event.details)
    except Exception:
        index.release_event(event.message_id, event.claim_id)  # not recorded: let the retry record it
        raise
    return "recorded"


def ses_notification(event_type: str, message_id: str, at: datetime, source: str, destination: list[str],
                     headers: dict[str, str] | None = None, bounce_type: str = "Permanent",
                     bounce_sub_type: str = "General", configuration_set: str = "") -> dict[str, Any]:
    """An SES event-publishing notification as SES sends it to SNS (for the local runtime, tests and samples)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    mail = {
        "timestamp": stamp, "source": source, "sendingAccountId": "123456789012", "messageId": message_id,
        "destination": destination, "headersTruncated": False,
        "headers": [{"name": name, "value": value} for name, value in (headers or {}).items()],
        "commonHeaders": {"from": [source], "to": destination, "messageId": message_id,
                          "subject": (headers or {}).get("Subject", "")},
        "tags": {"ses:configuration-set": [configuration_set]} if configuration_set else {},
    }
    notification: dict[str, Any] = {"eventType": event_type, "mail": mail}
    if event_type == "Delivery":
        notification["delivery"] = {"timestamp": stamp, "processingTimeMillis": 1234, "recipients": destination,
                                    "smtpResponse": "250 2.0.0 OK  1788253200 queued as 4Qx1", "reportingMTA": "a8-30.smtp-out.amazonses.com"}
    elif event_type == "Bounce":
        permanent = bounce_type == "Permanent"
        notification["bounce"] = {
            "bounceType": bounce_type, "bounceSubType": bounce_sub_type, "timestamp": stamp,
            "feedbackId": f"0100019{message_id[-12:]}-bounce", "reportingMTA": "dsn; a8-30.smtp-out.amazonses.com",
            "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1" if permanent else "4.2.2",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown" if permanent else "smtp; 452 4.2.2 mailbox full"}
                                  for address in destination],
        }
    elif event_type == "Complaint":
        notification["complaint"] = {"timestamp": stamp, "feedbackId": f"0100019{message_id[-12:]}-complaint",
                                     "complaintFeedbackType": "abuse", "userAgent": "Mail-Feedback/1.0",
                                     "complainedRecipients": [{"emailAddress": address} for address in destination]}
    else:
        raise ValueError(f"unsupported SES event type {event_type!r}: Delivery, Bounce or Complaint")
    return notification


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
