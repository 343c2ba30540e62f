"""A customer's contact slot: the last message sent to it and the messages waiting in line behind it.

The policy's minimum gap holds across all of a customer's invoices, so each customer has one slot
item (CUSTOMER#id / LAST_CONTACT): `at`, `invoice_id`, `step_id` of the last message, and `queue`:
the messages refused since, first refused first, each with the moment it may go (`at`), so a message
that has waited is not overtaken, again and again, by other invoices' messages due at that moment.

The rules, the same for DynamoStore (a versioned conditional write of what these functions return)
and MemoryStore:
- a message may go when the gap since the last one has passed and no other invoice's message is ahead
  of it in the queue; a queued message is dropped from the queue when its moment is more than
  RESERVATION_GRACE past (its invoice never came), or at once when its invoice is settled (`release`:
  the dunning use case releases a settled invoice's place as soon as another message finds it ahead);
- a retry of the message that holds the slot may go (its first attempt may have failed to send);
- a refused message takes the last place in the queue, or keeps the place it has (first refused,
  first served), and waits behind the message just ahead of it.
Slots written before the queue (`next_at`, `next_invoice_id`, `next_step_id`) read as a queue of one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arrears.domain.clock import parse_iso, to_iso_z
from arrears.domain.models import RecentContact

RESERVATION_GRACE = timedelta(hours=1)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_iso(value)


def _queue(slot: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
    """The waiting messages still expected at `at`, first refused first."""
    if "queue" in slot:
        waiting = [dict(entry) for entry in slot["queue"]]
    elif "next_at" in slot:
        waiting = [{"invoice_id": slot["next_invoice_id"], "step_id": slot["next_step_id"], "at": slot["next_at"]}]
    else:
        waiting = []
    return [entry for entry in waiting if _moment(entry["at"]) >= at - RESERVATION_GRACE]


def _with_queue(slot: dict[str, Any], queue: list[dict[str, Any]]) -> dict[str, Any]:
    kept = {name: slot[name] for name in ("at", "invoice_id", "step_id")}
    return {**kept, "queue": queue} if queue else kept


def _last(slot: dict[str, Any]) -> RecentContact:
    return RecentContact(invoice_id=slot["invoice_id"], step_id=slot["step_id"], at=_moment(slot["at"]))


def contact_ahead(slot: dict[str, Any], invoice_id: str, at: datetime) -> RecentContact:
    """The message a refused one waits behind: the one just ahead of it in the queue (the last queued, for a
    message not in it yet), or the last sent when nothing queued is ahead of it or later than it."""
    queue = _queue(slot, at)
    places = [index for index, entry in enumerate(queue) if entry["invoice_id"] == invoice_id]
    ahead = queue[:places[0]] if places else queue
    last = _last(slot)
    if ahead and _moment(ahead[-1]["at"]) >= last.at:
        entry = ahead[-1]
        return RecentContact(invoice_id=entry["invoice_id"], step_id=entry["step_id"], at=_moment(entry["at"]))
    return last


def claim(slot: dict[str, Any] | None, invoice_id: str, step_id: str, at: datetime,
          gap: timedelta) -> tuple[dict[str, Any], RecentContact | None]:
    """(the slot after the attempt, None when the message may go, else the message it waits behind)."""
    if slot is None:
        return {"at": to_iso_z(at), "invoice_id": invoice_id, "step_id": step_id}, None
    queue = _queue(slot, at)
    first_in_line = not queue or queue[0]["invoice_id"] == invoice_id
    if _moment(slot["at"]) <= at - gap and first_in_line:
        rest = [entry for entry in queue if entry["invoice_id"] != invoice_id]
        return _with_queue({"at": to_iso_z(at), "invoice_id": invoice_id, "step_id": step_id}, rest), None
    if (slot["invoice_id"], slot["step_id"]) == (invoice_id, step_id):
        return _with_queue({**slot, "at": to_iso_z(at)}, queue), None
    return _with_queue(slot, queue), contact_ahead(slot, invoice_id, at)


def reserve(slot: dict[str, Any] | None, invoice_id: str, step_id: str, moment: datetime,
            at: datetime) -> tuple[dict[str, Any] | None, bool]:
    """(the slot after the attempt, whether this message is now first in line). A refused message keeps its
    place in the queue (its step and moment updated: a later step of the invoice may supersede the one that
    waited), or takes the last place."""
    if slot is None:
        return slot, False
    queue = _queue(slot, at)
    mine = {"invoice_id": invoice_id, "step_id": step_id, "at": to_iso_z(moment)}
    places = [index for index, entry in enumerate(queue) if entry["invoice_id"] == invoice_id]
    if places:
        queue[places[0]] = mine
    else:
        queue.append(mine)
    return _with_queue(slot, queue), queue[0]["invoice_id"] == invoice_id


def release(slot: dict[str, Any] | None, invoice_id: str, at: datetime) -> dict[str, Any] | None:
    """The slot without the invoice's place in the queue (a settled invoice: its message never comes)."""
    if slot is None:
        return slot
    return _with_queue(slot, [entry for entry in _queue(slot, at) if entry["invoice_id"] != invoice_id])
