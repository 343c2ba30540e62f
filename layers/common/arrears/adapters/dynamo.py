"""The DynamoDB single table (adapter): invoices, customers, claims, tasks and the contact log."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from arrears.adapters import aws
from arrears.adapters.dynamo_behaviour import DynamoBehaviourItems
from arrears.adapters.dynamo_items import _conditional_failed, _plain, _written, put_if_absent
from arrears.domain.hash_chain import chain_entry
from arrears.domain.clock import parse_iso, to_iso_z
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, StepClaim
from arrears.domain.models import TERMINAL_STATUSES, ContactEntry, Customer, Hold, Invoice, InvoiceStatus, RecentContact
from arrears.domain import contact_queue as contact_slot, table_keys as keys

_FACT_FIELDS = (
    "provider", "number", "customer_id", "currency", "amount_due", "amount_paid", "amount_remaining",
    "issued_at", "due_at", "status", "pay_url", "lines", "provider_updated_at",
)
_TERMINAL = [status.value for status in TERMINAL_STATUSES]
# Concurrent appends to one invoice's log (a payment webhook racing a contact) retry this often.
_APPEND_ATTEMPTS = 8
_SLOT_ATTEMPTS = 8  # reads and versioned writes of a customer's contact slot before giving up (the Lambda retries)


def _step_claim(item: dict[str, Any], mine: bool) -> StepClaim:
    """A step claim item as the port's StepClaim; one written before phases (only `claimed_at`) is done."""
    expires, claimed = item.get("expires_at"), item.get("claimed_at")
    return StepClaim(phase=item.get("phase", PHASE_DONE), mine=mine, holder=item.get("holder", ""), owner=item.get("owner"),
                     expires_at=parse_iso(expires) if expires else None, claimed_at=parse_iso(claimed) if claimed else None,
                     record=json.loads(item.get("record") or "{}"))


def _invoice_from_item(item: dict[str, Any]) -> Invoice:
    data = _plain(item)
    fields = {name: data[name] for name in Invoice.model_fields if name in data}
    fields["completed_steps"] = tuple(data.get("completed_steps", []))
    return Invoice.model_validate(fields)


class DynamoStore(DynamoBehaviourItems):
    """Implements the InvoiceStore and ContactLog ports on one table."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        # The contact log's last entry per invoice, as this store last wrote or read it: an append chains
        # onto it without reading the log first. Only a hint: the put is conditional on the next entry being
        # new, so after another writer's append the put fails and the log is read again (never the hint).
        # None: the log was empty when last seen (or the invoice was not in the table: a new invoice's first
        # entry, the webhook's, is the log's first without a Query; issue #19).
        self._last_seen: dict[str, ContactEntry | None] = {}
        self._last_seen_lock = threading.Lock()

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    # --- invoices and customers -------------------------------------------------------------
    def get_invoice(self, invoice_id: str) -> Invoice | None:
        item = self._table.get_item(Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META}, ConsistentRead=True).get("Item")
        if item is None:
            self._remember_empty(invoice_id)  # no invoice, no log: the hint its first append chains onto
        return _invoice_from_item(item) if item else None

    def get_customer(self, customer_id: str) -> Customer | None:
        """The billing platform's record with the finance team's settings over it (one query: META + SETTINGS)."""
        items = {item["sk"]: _plain(item) for item in self._query(
            Key("pk").eq(keys.customer_pk(customer_id)) & Key("sk").between(keys.META, keys.CUSTOMER_SETTINGS))}
        if keys.META not in items:
            return None
        data = items[keys.META]
        data.update(items.get(keys.CUSTOMER_SETTINGS, {}).get("settings", {}))
        return Customer.model_validate({name: data[name] for name in Customer.model_fields if name in data})

    def customer_settings(self, customer_id: str) -> dict[str, Any]:
        item = self._table.get_item(Key={"pk": keys.customer_pk(customer_id), "sk": keys.CUSTOMER_SETTINGS},
                                    ConsistentRead=True).get("Item")
        return _plain(item)["settings"] if item else {}

    def save_customer_settings(self, customer_id: str, settings: dict[str, Any], at: datetime, actor: str) -> None:
        """The finance team's own values for a customer: its own item, so the billing platform's customer
        updates (which rewrite the customer record) never undo them."""
        self._table.put_item(Item={"pk": keys.customer_pk(customer_id), "sk": keys.CUSTOMER_SETTINGS,
                                   "entity": "customer_settings", "settings": settings,
                                   "updated_at": to_iso_z(at), "updated_by": actor})

    def save_invoice_facts(self, invoice: Invoice) -> bool:
        facts = invoice.model_dump(mode="json", include=set(_FACT_FIELDS))
        facts["issued_at"] = to_iso_z(invoice.issued_at)
        facts["due_at"] = to_iso_z(invoice.due_at)
        facts["provider_updated_at"] = to_iso_z(invoice.provider_updated_at)
        terminal = invoice.status in TERMINAL_STATUSES
        names = {f"#{name}": name for name in facts}
        values = {f":{name}": value for name, value in facts.items()}
        assignments = [f"#{name} = :{name}" for name in facts]
        assignments += ["entity = :entity", "invoice_id = :invoice_id", "gsi2pk = :gsi2pk", "gsi2sk = :gsi2sk"]
        values.update({
            ":entity": "invoice", ":invoice_id": invoice.invoice_id,
            ":gsi2pk": keys.customer_pk(invoice.customer_id), ":gsi2sk": f"INVOICE#{facts['due_at']}#{invoice.invoice_id}",
            ":t0": _TERMINAL[0], ":t1": _TERMINAL[1], ":t2": _TERMINAL[2], ":incoming_terminal": terminal,
        })
        removals: list[str] = []
        if terminal:
            assignments += ["gsi1pk = :closed_state", "closed_at = if_not_exists(closed_at, :now)"]
            values[":closed_state"] = "COLLECTION#closed"
            values[":now"] = facts["provider_updated_at"]
        else:
            assignments += ["gsi1pk = if_not_exists(gsi1pk, :open_state)", "gsi1sk = if_not_exists(gsi1sk, :due_sort)"]
            values[":open_state"] = "COLLECTION#open"
            values[":due_sort"] = f"{facts['due_at']}#{invoice.invoice_id}"
        # GSI3 (aging): exactly the receivables, open with a balance, by due date (a sparse index).
        if not terminal and invoice.amount_remaining > 0:
            assignments += ["gsi3pk = :receivable", "gsi3sk = :aging_sort"]
            values.update({":receivable": keys.RECEIVABLE, ":aging_sort": f"{facts['due_at']}#{invoice.invoice_id}"})
        else:
            removals += ["gsi3pk", "gsi3sk"]
        # Terminal states win over anything (but a payment of an invoice written off: a recovery); otherwise
        # only newer provider facts are written.
        condition = (
            "attribute_not_exists(pk) OR (NOT #status IN (:t0, :t1, :t2) "
            "AND (#provider_updated_at <= :provider_updated_at OR :incoming_terminal = :true)) "
            "OR (#status = :uncollectible AND :status = :paid)"
        )
        values.update({":true": True, ":uncollectible": InvoiceStatus.UNCOLLECTIBLE.value, ":paid": InvoiceStatus.PAID.value})
        # The write id tells this write, answered "condition failed" after botocore retried it once its first
        # answer was lost (a paid invoice's own write then refuses itself), from another caller's newer facts.
        write_id = uuid.uuid4().hex
        assignments.append("facts_write_id = :facts_write_id")
        values[":facts_write_id"] = write_id
        key = {"pk": keys.invoice_pk(invoice.invoice_id), "sk": keys.META}
        if _written(lambda: self._table.update_item(
            Key=key,
            UpdateExpression="SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removals) if removals else ""),
            ConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )):
            return True
        return self._claim_item(key).get("facts_write_id") == write_id

    def save_customer(self, customer: Customer) -> bool:
        item = customer.model_dump(mode="json")
        item["updated_at"] = to_iso_z(customer.updated_at)
        item.update({"pk": keys.customer_pk(customer.customer_id), "sk": keys.META, "entity": "customer"})
        return _written(lambda: self._table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR updated_at <= :updated_at",
            ExpressionAttributeValues={":updated_at": item["updated_at"]},
        ))

    def save_customer_snapshot(self, customer: Customer) -> bool:
        """A customer as an invoice payload shows it: never over the customer's own record (save_customer)."""
        item = customer.model_dump(mode="json")
        item["updated_at"] = to_iso_z(customer.updated_at)
        item.update({"pk": keys.customer_pk(customer.customer_id), "sk": keys.META, "entity": "customer", "source": "invoice"})
        return _written(lambda: self._table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR (#source = :invoice AND updated_at <= :updated_at)",
            ExpressionAttributeNames={"#source": "source"},
            ExpressionAttributeValues={":updated_at": item["updated_at"], ":invoice": "invoice"},
        ))

    # --- ingestion: platform object versions, payment links, parked changes -------------------
    def save_provider_object(self, key: str, at: datetime, state: str, terminal: bool) -> bool:
        return _written(lambda: self._table.put_item(
            Item={"pk": f"PROVIDER#{key}", "sk": keys.META, "entity": "provider_object", "at": to_iso_z(at),
                  "state": state, "terminal": terminal},
            ConditionExpression="attribute_not_exists(pk) OR (terminal = :false AND #at <= :at)",
            ExpressionAttributeNames={"#at": "at"}, ExpressionAttributeValues={":false": False, ":at": to_iso_z(at)},
        ))

    def get_provider_object(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": f"PROVIDER#{key}", "sk": keys.META}, ConsistentRead=True).get("Item")
        return {"at": item["at"], "state": item["state"], "terminal": bool(item["terminal"])} if item else None

    def link_payment(self, provider: str, payment_id: str, invoice_id: str) -> bool:
        return put_if_absent(self._table, {"pk": f"PAYMENT#{provider}:{payment_id}", "sk": keys.META, "entity": "payment_link",
                                    "invoice_id": invoice_id})

    def invoice_of_payment(self, provider: str, payment_id: str) -> str | None:
        item = self._table.get_item(Key={"pk": f"PAYMENT#{provider}:{payment_id}", "sk": keys.META},
                                    ConsistentRead=True).get("Item")
        return item["invoice_id"] if item else None

    def park_change(self, subject: str, at: datetime, event_id: str, change: dict[str, Any]) -> None:
        self._table.put_item(Item={"pk": f"PARKED#{subject}", "sk": f"{to_iso_z(at)}#{event_id}", "entity": "parked_change",
                                   "change": json.dumps(change)})

    def parked_changes(self, subject: str) -> list[tuple[str, dict[str, Any]]]:
        items = self._query(Key("pk").eq(f"PARKED#{subject}"))
        return [(item["sk"], json.loads(item["change"])) for item in items]

    def unpark_change(self, subject: str, key: str) -> None:
        self._table.delete_item(Key={"pk": f"PARKED#{subject}", "sk": key})

    # --- collection state -------------------------------------------------------------------
    def pin_policy(self, invoice_id: str, policy_id: str, policy_version: int, execution_arn: str | None,
                   segment: str | None = None, started_at: datetime | None = None) -> None:
        values: dict[str, Any] = {":policy_id": policy_id, ":policy_version": policy_version}
        names: dict[str, str] = {}
        assignments = ["policy_id = if_not_exists(policy_id, :policy_id)",
                       "policy_version = if_not_exists(policy_version, :policy_version)"]
        if segment:
            # SEGMENT is a DynamoDB reserved word.
            assignments.append("#segment = if_not_exists(#segment, :segment)")
            values[":segment"] = segment
            names["#segment"] = "segment"
        if execution_arn:
            assignments.append("execution_arn = :execution_arn")
            values[":execution_arn"] = execution_arn
            if started_at is not None:
                assignments.append("execution_started_at = if_not_exists(execution_started_at, :started_at)")
                values[":started_at"] = to_iso_z(started_at)
        self._table.update_item(
            Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def record_renewal(self, invoice_id: str, predecessor_arn: str, successor_arn: str, started_at: datetime) -> bool:
        """The invoice is carried on by the successor execution: written only over its predecessor (so one renewal
        is recorded once); True also when a retry finds it recorded already, False when another execution holds it."""
        if _written(lambda: self._table.update_item(
                Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                UpdateExpression="SET execution_arn = :successor, execution_started_at = :started_at",
                ConditionExpression="execution_arn = :predecessor",
                ExpressionAttributeValues={":successor": successor_arn, ":predecessor": predecessor_arn,
                                           ":started_at": to_iso_z(started_at)})):
            return True
        current = self.get_invoice(invoice_id)
        return current is not None and current.execution_arn == successor_arn

    def save_progress(self, invoice_id: str, completed_step: str | None, next_action_at: datetime | None, closed: bool) -> None:
        assignments, values, names = [], {}, {}
        if completed_step is not None:
            # Appended once: a retried call that already recorded the step changes nothing.
            assignments.append("completed_steps = list_append(if_not_exists(completed_steps, :empty), :step)")
            values.update({":empty": [], ":step": [completed_step], ":step_id": completed_step})
        if closed:
            assignments += ["gsi1pk = :closed", "next_action_at = :none"]
            values.update({":closed": "COLLECTION#closed", ":none": None})
        elif next_action_at is not None:
            at = to_iso_z(next_action_at)
            assignments += ["next_action_at = :at", "gsi1sk = :sort"]
            values.update({":at": at, ":sort": f"{at}#{invoice_id}"})
        if not assignments:
            return
        condition = "attribute_exists(pk)"
        if completed_step is not None:
            condition += " AND NOT contains(completed_steps, :step_id)"
        try:
            self._table.update_item(
                Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=condition, ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ClientError as error:
            if not _conditional_failed(error) or completed_step is None:
                raise
            # The step was recorded by an earlier attempt; still apply the rest.
            self.save_progress(invoice_id, None, next_action_at, closed)

    def set_hold(self, invoice_id: str, hold: Hold) -> bool:
        """Put an open invoice on hold; False when it is not open or already on hold."""
        return _written(lambda: self._table.update_item(
            Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
            UpdateExpression="SET #hold = :hold REMOVE hold_token",
            ConditionExpression="attribute_exists(pk) AND #status = :open AND (attribute_not_exists(#hold) OR attribute_type(#hold, :null))",
            ExpressionAttributeNames={"#hold": "hold", "#status": "status"},
            ExpressionAttributeValues={":hold": hold.model_dump(mode="json"), ":open": "open", ":null": "NULL"},
        ))

    def clear_hold(self, invoice_id: str, shift_days: int) -> tuple[Hold, str | None] | None:
        """Lift the hold and move the pending steps by `shift_days`; the lifted hold and the parked
        workflow's task token, or None when there was no hold (someone else lifted it)."""
        try:
            old = self._table.update_item(
                Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                UpdateExpression="SET #hold = :null, schedule_shift_days = if_not_exists(schedule_shift_days, :zero) + :shift "
                                 "REMOVE hold_token",
                ConditionExpression="attribute_type(#hold, :map)",
                ExpressionAttributeNames={"#hold": "hold"},
                ExpressionAttributeValues={":null": None, ":zero": 0, ":shift": shift_days, ":map": "M"},
                ReturnValues="UPDATED_OLD",
            )["Attributes"]
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        data = _plain(old)
        return Hold.model_validate(data["hold"]), data.get("hold_token")

    def record_insolvency(self, customer_id: str, notice: str, actor: str, at: datetime) -> bool:
        # Its own item: the billing platform's customer updates rewrite the customer record, not this.
        return put_if_absent(self._table, {"pk": keys.customer_pk(customer_id), "sk": keys.INSOLVENCY, "entity": "insolvency",
                                           "notice": notice, "actor": actor, "at": to_iso_z(at)})

    def insolvency_of(self, customer_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": keys.customer_pk(customer_id), "sk": keys.INSOLVENCY},
                                    ConsistentRead=True).get("Item")
        return {"notice": item["notice"], "actor": item["actor"], "at": item["at"]} if item else None

    def save_reply_pause(self, customer_id: str, pause: dict[str, Any]) -> None:
        # Its own item, like the insolvency: the customer's automated messages wait for it (arrears.domain.reply_pause).
        self._table.put_item(Item={"pk": keys.customer_pk(customer_id), "sk": keys.REPLY_PAUSE, "entity": "reply_pause",
                                   **pause})

    def reply_pause(self, customer_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": keys.customer_pk(customer_id), "sk": keys.REPLY_PAUSE},
                                    ConsistentRead=True).get("Item")
        return {k: v for k, v in _plain(item).items() if k not in ("pk", "sk", "entity")} if item else None

    def end_reply_pause(self, customer_id: str, task_id: str, at: datetime) -> bool:
        """Lift the pause its task (the latest reply's) opened (kept, ended at `at`); False when another reply's pause
        is on, or none."""
        return _written(lambda: self._table.update_item(
            Key={"pk": keys.customer_pk(customer_id), "sk": keys.REPLY_PAUSE},
            UpdateExpression="SET ended_at = :at",
            ConditionExpression="task_id = :task AND attribute_not_exists(ended_at)",
            ExpressionAttributeValues={":task": task_id, ":at": to_iso_z(at)}))

    def renew_hold(self, invoice_id: str, until: datetime) -> bool:
        """Move the hold's end (the parked workflow timed out and parks again, with a new token)."""
        return _written(lambda: self._table.update_item(
            Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
            UpdateExpression="SET #hold.#until = :until REMOVE hold_token",
            ConditionExpression="attribute_type(#hold, :map)",
            ExpressionAttributeNames={"#hold": "hold", "#until": "until"},
            ExpressionAttributeValues={":until": to_iso_z(until), ":map": "M"},
        ))

    def save_hold_token(self, invoice_id: str, token: str) -> bool:
        """Remember the parked workflow's task token; False when the hold is already lifted."""
        return _written(lambda: self._table.update_item(
            Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
            UpdateExpression="SET hold_token = :token",
            ConditionExpression="attribute_type(#hold, :map)",
            ExpressionAttributeNames={"#hold": "hold"},
            ExpressionAttributeValues={":token": token, ":map": "M"},
        ))

    def save_wake_token(self, invoice_id: str, token: str) -> Invoice | None:
        """Remember the token the workflow waits on for its next step (a hold placed meanwhile wakes it), and the
        invoice as this write left it (ALL_NEW: the re-read it replaces, without a GetItem; issue #19)."""
        item = self._table.update_item(Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                                       UpdateExpression="SET wake_token = :token", ConditionExpression="attribute_exists(pk)",
                                       ExpressionAttributeValues={":token": token}, ReturnValues="ALL_NEW")["Attributes"]
        return _invoice_from_item(item)

    def take_wake_token(self, invoice_id: str) -> str | None:
        """Remove and return the waiting workflow's token (at most one caller gets it)."""
        old = self._table.update_item(Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                                      UpdateExpression="REMOVE wake_token", ConditionExpression="attribute_exists(pk)",
                                      ReturnValues="UPDATED_OLD").get("Attributes", {})
        return old.get("wake_token")

    def claim_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, at: datetime,
                           gap: timedelta) -> RecentContact | None:
        # One item per customer: the last message (at, invoice_id, step_id) and the queue behind it. The rules are
        # arrears.domain.contact_queue's; the write is conditional on the version read, so of two invoices' workflows
        # contacting one customer at once only one wins (the other reads again and waits).
        return self._change_contact_slot(customer_id, lambda slot: contact_slot.claim(slot, invoice_id, step_id, at, gap))

    def reserve_contact_slot(self, customer_id: str, invoice_id: str, step_id: str, moment: datetime, at: datetime) -> bool:
        return self._change_contact_slot(customer_id, lambda slot: contact_slot.reserve(slot, invoice_id, step_id, moment, at))

    def release_contact_reservation(self, customer_id: str, invoice_id: str, at: datetime) -> None:
        self._change_contact_slot(customer_id, lambda slot: (contact_slot.release(slot, invoice_id, at), None))

    def _change_contact_slot(self, customer_id: str, change: Callable[[dict[str, Any] | None], tuple[Any, Any]]) -> Any:
        key = {"pk": keys.customer_pk(customer_id), "sk": keys.LAST_CONTACT}
        for _ in range(_SLOT_ATTEMPTS):
            item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            slot = None if item is None else {name: value for name, value in item.items()
                                               if name in ("at", "invoice_id", "step_id", "queue", "next_at",
                                                           "next_invoice_id", "next_step_id")}
            changed, result = change(slot)
            if changed is None or changed == slot:
                return result
            version = int(item.get("version", 0)) if item else 0
            condition = "attribute_not_exists(pk)" if item is None else (
                "version = :version" if "version" in item else "attribute_not_exists(version)")
            write_id = uuid.uuid4().hex
            if _written(lambda: self._table.put_item(
                    Item={**key, "entity": "last_contact", **changed, "version": version + 1, "write_id": write_id},
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": {":version": version}} if item is not None and "version" in item else {}))):
                return result
            if self._claim_item(key).get("write_id") == write_id:
                return result  # our own write, whose answer was lost (botocore retried it and met it)
        raise RuntimeError(f"the contact slot of {customer_id} changed {_SLOT_ATTEMPTS} times while being written: retry")

    def claim_step(self, invoice_id: str, step_id: str, at: datetime) -> bool:
        # A once-only record (no phases: it reads as "done"). The write id tells a write whose answer was lost
        # (botocore retried it and met its own item) from another caller's claim.
        key = {"pk": keys.invoice_pk(invoice_id), "sk": keys.step_sk(step_id)}
        write_id = uuid.uuid4().hex
        if put_if_absent(self._table, {**key, "entity": "step_claim", "claimed_at": to_iso_z(at), "write_id": write_id}):
            return True
        return self._claim_item(key).get("write_id") == write_id

    def _claim_item(self, key: dict[str, str]) -> dict[str, Any]:
        return self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}

    def take_step(self, invoice_id: str, step_id: str, owner: str | None, at: datetime, expires_at: datetime) -> StepClaim:
        key = {"pk": keys.invoice_pk(invoice_id), "sk": keys.step_sk(step_id)}
        holder = owner if owner is not None else uuid.uuid4().hex
        for _ in range(_SLOT_ATTEMPTS):
            write_id = uuid.uuid4().hex
            item = {**key, "entity": "step_claim", "claimed_at": to_iso_z(at), "holder": holder, "phase": PHASE_CLAIMED,
                    "expires_at": to_iso_z(expires_at), "record": "{}", "write_id": write_id,
                    **({"owner": owner} if owner is not None else {})}
            if put_if_absent(self._table, item):
                return _step_claim(item, mine=True)
            found = self._claim_item(key)
            if not found:
                continue  # released meanwhile: claim it anew
            if found.get("write_id") == write_id:
                return _step_claim(found, mine=True)  # ours: the put's answer was lost and botocore retried it
            claim = _step_claim(found, mine=False)
            if claim.phase == PHASE_DONE:
                return claim
            if owner is not None and claim.owner == owner:
                return _step_claim(found, mine=True)
            if claim.expires_at is None or claim.expires_at > at:
                return claim
            # Its holder's time is up: taken over (its holder's next phase change is conditional on it, so fails).
            names, values = {"#owner": "owner"}, {":holder": holder, ":expires": to_iso_z(expires_at),
                                                  ":write_id": write_id, ":seen": found["write_id"]}
            assignment = "holder = :holder, expires_at = :expires, write_id = :write_id"
            if owner is not None:
                assignment += ", #owner = :owner"
                values[":owner"] = owner
            if self._changed(key, "SET " + assignment + ("" if owner is not None else " REMOVE #owner"),
                             "write_id = :seen", names, values, write_id):
                return _step_claim({**found, "holder": holder, "owner": owner, "expires_at": to_iso_z(expires_at)}, mine=True)
        raise RuntimeError(f"the claim of step {step_id} of {invoice_id} changed {_SLOT_ATTEMPTS} times while taken: retry")

    def _changed(self, key: dict[str, str], update: str, condition: str, names: dict[str, str], values: dict[str, Any],
                 write_id: str) -> bool:
        """A conditional update of a claim that writes `write_id`: True when applied, also when its answer was lost."""
        try:
            self._table.update_item(Key=key, UpdateExpression=update, ConditionExpression=condition,
                                    ExpressionAttributeValues=values, **({"ExpressionAttributeNames": names} if names else {}))
            return True
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        return self._claim_item(key).get("write_id") == write_id

    def advance_step(self, invoice_id: str, step_id: str, holder: str, expected: tuple[str, ...], phase: str,
                     record: dict[str, Any] | None = None) -> bool:
        key = {"pk": keys.invoice_pk(invoice_id), "sk": keys.step_sk(step_id)}
        write_id = uuid.uuid4().hex
        values: dict[str, Any] = {":holder": holder, ":phase": phase, ":write_id": write_id,
                                  **{f":expected{index}": name for index, name in enumerate(expected)}}
        update = "SET #phase = :phase, write_id = :write_id"
        if record is not None:
            update += ", #record = :record"
            values[":record"] = json.dumps(record, sort_keys=True)
        condition = f"holder = :holder AND #phase IN ({', '.join(f':expected{index}' for index in range(len(expected)))})"
        return self._changed(key, update, condition, {"#phase": "phase", **({"#record": "record"} if record is not None else {})},
                             values, write_id)

    def step_claims(self, invoice_id: str) -> dict[str, StepClaim]:
        items = self._query(Key("pk").eq(keys.invoice_pk(invoice_id)) & Key("sk").begins_with(keys.step_sk("")))
        return {item["sk"].removeprefix(keys.step_sk("")): _step_claim(item, mine=False) for item in items}

    def release_step(self, invoice_id: str, step_id: str, holder: str | None = None) -> None:
        key = {"pk": keys.invoice_pk(invoice_id), "sk": keys.step_sk(step_id)}
        if holder is None:
            self._table.delete_item(Key=key)
            return
        _written(lambda: self._table.delete_item(
            Key=key, ConditionExpression="holder = :holder AND #phase = :claimed",
            ExpressionAttributeNames={"#phase": "phase"}, ExpressionAttributeValues={":holder": holder, ":claimed": PHASE_CLAIMED}))

    def open_task(self, invoice_id: str, kind: str, due_at: datetime, details: dict[str, Any]) -> str:
        task_id = keys.task_id(invoice_id, kind, to_iso_z(due_at), details)
        self._table.put_item(Item={
            "pk": f"TASK#{task_id}", "sk": keys.META, "entity": "task", "task_id": task_id, "invoice_id": invoice_id,
            "kind": kind, "status": "open", "due_at": to_iso_z(due_at), "details": json.dumps(details, sort_keys=True),
            "gsi1pk": "TASK#open", "gsi1sk": f"{to_iso_z(due_at)}#{task_id}",
            # The invoice's own tasks (GSI2, partition INVOICE#id): they close when it settles (arrears.domain.tasks).
            "gsi2pk": keys.invoice_pk(invoice_id), "gsi2sk": f"{keys.TASK_PREFIX}{to_iso_z(due_at)}#{task_id}",
        })
        return task_id

    def open_tasks_of(self, invoice_id: str) -> list[dict[str, Any]]:
        """The invoice's open tasks (GSI2, one key query; a task closed keeps its GSI2 keys, so filtered here)."""
        items = self._query(Key("gsi2pk").eq(keys.invoice_pk(invoice_id)) & Key("gsi2sk").begins_with(keys.TASK_PREFIX),
                            index="gsi2")
        return [{**_plain(item), "details": json.loads(item["details"])} for item in items if item.get("status") == "open"]

    def mark_undeliverable(self, customer_id: str, address: str, reason: str, at: datetime) -> None:
        # Its own item: the billing platform's customer updates rewrite the customer record, not this.
        self._table.put_item(Item={"pk": keys.customer_pk(customer_id), "sk": f"UNDELIVERABLE#{address.strip().lower()}",
                                   "entity": "undeliverable_address", "reason": reason, "marked_at": to_iso_z(at)})

    def undeliverable_addresses(self, customer_id: str) -> set[str]:
        items = self._query(Key("pk").eq(keys.customer_pk(customer_id)) & Key("sk").begins_with("UNDELIVERABLE#"))
        return {item["sk"].removeprefix("UNDELIVERABLE#") for item in items}

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        """Every invoice of a customer (GSI2, by due date): no Scan."""
        items = self._query(Key("gsi2pk").eq(keys.customer_pk(customer_id)) & Key("gsi2sk").begins_with("INVOICE#"), index="gsi2")
        invoices = (self.get_invoice(item["invoice_id"]) for item in items)
        return [invoice for invoice in invoices if invoice is not None]

    def invoice_page(self, index: str, partition: str, sort_from: str | None, sort_to: str | None, limit: int,
                     start_key: dict[str, Any] | None = None) -> tuple[list[Invoice], dict[str, Any] | None]:
        """One page of invoices from a GSI partition, optionally within a sort-key range (every index
        projects the whole item): the invoices and the key to continue from, None at the end."""
        condition = Key(f"{index}pk").eq(partition)
        sort_key = Key(f"{index}sk")
        if sort_from is not None and sort_to is not None:
            condition &= sort_key.between(sort_from, sort_to)
        elif sort_from is not None:
            condition &= sort_key.gte(sort_from)
        elif sort_to is not None:
            condition &= sort_key.lte(sort_to)
        request: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition, "Limit": limit}
        if start_key:
            request["ExclusiveStartKey"] = start_key
        response = self._table.query(**request)
        return [_invoice_from_item(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

    def invoices_in(self, index: str, partition: str) -> list[Invoice]:
        """Every invoice of a GSI partition (reports read the whole receivables book)."""
        items = self._query(Key(f"{index}pk").eq(partition), index=index)
        return [_invoice_from_item(item) for item in items]

    def write_off(self, invoice_id: str, at: datetime) -> bool:
        """Close an open invoice as uncollectible by the finance team's decision; False when it is not open."""
        return _written(lambda: self._table.update_item(
            Key={"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
            UpdateExpression="SET #status = :written_off, closed_at = :at, gsi1pk = :closed REMOVE gsi3pk, gsi3sk",
            ConditionExpression="attribute_exists(pk) AND #status = :open",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":written_off": "uncollectible", ":at": to_iso_z(at), ":closed": "COLLECTION#closed",
                                       ":open": "open"},
        ))

    def open_tasks(self) -> list[dict[str, Any]]:
        items = self._query(Key("gsi1pk").eq("TASK#open"), index="gsi1")
        return [{**item, "details": json.loads(item["details"])} for item in items]

    def task(self, task_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": f"TASK#{task_id}", "sk": keys.META}, ConsistentRead=True).get("Item")
        return {**_plain(item), "details": json.loads(item["details"])} if item else None

    def close_task(self, task_id: str, at: datetime, actor: str, note: str, status: str = "done") -> dict[str, Any] | None:
        """Mark an open task done (it leaves the open list; `status` "obsolete": its invoice settled). The closed
        task; None when it is not open."""
        try:
            item = self._table.update_item(
                Key={"pk": f"TASK#{task_id}", "sk": keys.META},
                UpdateExpression="SET #status = :done, closed_at = :at, closed_by = :actor, note = :note REMOVE gsi1pk, gsi1sk",
                ConditionExpression="#status = :open", ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":done": status, ":open": "open", ":at": to_iso_z(at), ":actor": actor, ":note": note},
                ReturnValues="ALL_NEW")["Attributes"]
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return {**_plain(item), "details": json.loads(item["details"])}

    # --- contact log ------------------------------------------------------------------------
    def append(self, invoice_id: str, customer_id: str, at: datetime, **fields: Any) -> ContactEntry:
        with self._last_seen_lock:
            known, last = invoice_id in self._last_seen, self._last_seen.get(invoice_id)
        if not known:
            last = self._last_entry(invoice_id)
        for _ in range(_APPEND_ATTEMPTS):
            entry = chain_entry(last, at, invoice_id=invoice_id, customer_id=customer_id, **fields)
            key = {"pk": keys.invoice_pk(invoice_id), "sk": keys.log_sk(entry.seq)}
            write_id = uuid.uuid4().hex  # not part of the entry (nor of its hash): tells our own put from another's
            try:
                self._table.put_item(
                    Item={**key, "entity": "contact", "kind": entry.kind, "at": to_iso_z(entry.at),
                          "entry": entry.model_dump_json(), "write_id": write_id},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                if self._claim_item(key).get("write_id") != write_id:
                    # Someone else appended (or the remembered entry was stale): chain onto the log as it is now.
                    last = self._last_entry(invoice_id)
                    continue
                # Our own put, whose answer was lost (botocore retried it and met it): appended once.
            self._remember(entry)
            if entry.message_id:
                self._index_message(entry)
            return entry
        raise RuntimeError(f"could not append to the contact log of {invoice_id}: too many concurrent writers")

    def _index_message(self, entry: ContactEntry) -> None:
        """MESSAGE#<SES message id> -> invoice, so SES delivery, bounce and complaint events find their log without a Scan.
        The first entry naming a message (the email itself) wins; later ones (its SES events) change nothing."""
        from arrears.domain.replies import reply_index_items
        from arrears.domain.ses_events import message_lookup_item

        put_if_absent(self._table, message_lookup_item(entry))
        for item in reply_index_items(entry):  # what leads a reply to it (arrears.domain.replies)
            self._table.put_item(Item=item)

    def entries(self, invoice_id: str) -> list[ContactEntry]:
        items = self._query(Key("pk").eq(keys.invoice_pk(invoice_id)) & Key("sk").begins_with(keys.LOG_PREFIX))
        entries = [ContactEntry.model_validate_json(item["entry"]) for item in items]
        if entries:
            self._remember(entries[-1])
        return entries

    def _last_entry(self, invoice_id: str) -> ContactEntry | None:
        """The log's last entry, read from the table (strongly consistent)."""
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(keys.invoice_pk(invoice_id)) & Key("sk").begins_with(keys.LOG_PREFIX),
            ScanIndexForward=False, Limit=1, ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return None
        entry = ContactEntry.model_validate_json(items[0]["entry"])
        self._remember(entry)
        return entry

    # A warm Lambda container remembers this many invoices' last entries (the oldest are forgotten first).
    _LAST_SEEN_SIZE = 4096

    def _remember_empty(self, invoice_id: str) -> None:
        with self._last_seen_lock:
            if invoice_id not in self._last_seen:  # never over an entry seen: a hint only moves forward
                if len(self._last_seen) >= self._LAST_SEEN_SIZE:
                    del self._last_seen[next(iter(self._last_seen))]
                self._last_seen[invoice_id] = None

    def _remember(self, entry: ContactEntry) -> None:
        with self._last_seen_lock:
            known = self._last_seen.pop(entry.invoice_id, None)
            if known is not None and known.seq > entry.seq:
                entry = known  # a concurrent append got further: keep the later entry
            elif len(self._last_seen) >= self._LAST_SEEN_SIZE:
                del self._last_seen[next(iter(self._last_seen))]
            self._last_seen[entry.invoice_id] = entry

    def _query(self, condition: Any, index: str | None = None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"KeyConditionExpression": condition}
        if index:
            request["IndexName"] = index
        else:
            request["ConsistentRead"] = True
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
