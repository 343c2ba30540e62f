"""A customer's contact slot: the last message sent to it and the message next in line.

The policy's minimum gap holds across all of a customer's invoices, so each customer has one slot
item (CUSTOMER#id / LAST_CONTACT): `at`, `invoice_id`, `step_id` of the last message, and `next_*`
for the message that was refused first and reserved the moment the gap ends, so a message that has
waited is not overtaken, again and again, by other invoices' messages due at that moment.

The rules, which DynamoStore writes as condition expressions and MemoryStore applies with `claim`:
- a message may go when the gap since the last one has passed and no other invoice holds a live
  reservation (its moment is not more than RESERVATION_GRACE past: a reserved invoice that was paid
  meanwhile never comes, and must not block the customer's other invoices for long);
- a retry of the message that holds the slot may go (its first attempt may have failed to send);
- a refused message reserves the slot's next moment for its invoice unless another invoice holds a
  live reservation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arrears.clock import parse_iso, to_iso_z
from arrears.models import RecentContact

RESERVATION_GRACE = timedelta(hours=1)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_iso(value)


def _reserved_by_other(slot: dict[str, Any], invoice_id: str, at: datetime) -> bool:
    # The place in line is the invoice's, whichever of its steps goes (a later step may supersede the one that waited).
    return "next_at" in slot and _moment(slot["next_at"]) >= at - RESERVATION_GRACE and slot["next_invoice_id"] != invoice_id


def contact_ahead(slot: dict[str, Any], invoice_id: str, at: datetime) -> RecentContact:
    """The message a refused one waits behind: the last sent, or another's live reservation after it."""
    last = RecentContact(invoice_id=slot["invoice_id"], step_id=slot["step_id"], at=_moment(slot["at"]))
    if _reserved_by_other(slot, invoice_id, at) and _moment(slot["next_at"]) >= last.at:
        return RecentContact(invoice_id=slot["next_invoice_id"], step_id=slot["next_step_id"], at=_moment(slot["next_at"]))
    return last


def claim(slot: dict[str, Any] | None, invoice_id: str, step_id: str, at: datetime,
          gap: timedelta) -> tuple[dict[str, Any], RecentContact | None]:
    """(the slot after the attempt, None when the message may go, else the message it waits behind)."""
    if slot is None or (_moment(slot["at"]) <= at - gap and not _reserved_by_other(slot, invoice_id, at)):
        return {"at": to_iso_z(at), "invoice_id": invoice_id, "step_id": step_id}, None
    if (slot["invoice_id"], slot["step_id"]) == (invoice_id, step_id):
        return {**slot, "at": to_iso_z(at)}, None
    return slot, contact_ahead(slot, invoice_id, at)


def reserve(slot: dict[str, Any] | None, invoice_id: str, step_id: str, moment: datetime,
            at: datetime) -> tuple[dict[str, Any] | None, bool]:
    """(the slot after the attempt, whether this message is now next in line at `moment`)."""
    if slot is None or _reserved_by_other(slot, invoice_id, at):
        return slot, False
    return {**slot, "next_at": to_iso_z(moment), "next_invoice_id": invoice_id, "next_step_id": step_id}, True
