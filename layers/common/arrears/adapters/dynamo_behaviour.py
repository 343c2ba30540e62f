"""A customer's payment behaviour item (issue #20, `CUSTOMER#id / BEHAVIOUR`): the figures, summed one paid invoice
at a time, and the risk band last given. Mixed into DynamoStore."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from botocore.exceptions import ClientError

from arrears.adapters.dynamo_items import _plain, _written
from arrears.domain.clock import to_iso_z
from arrears.domain import table_keys as keys

_ATTEMPTS = 8  # versioned writes of one customer's figures before giving up (the caller's retry goes on)


class DynamoBehaviourItems:
    """Implements arrears.domain.payment_behaviour.BehaviourStore on the single table."""

    table_name: str
    _table: Any

    def _behaviour_key(self, customer_id: str) -> dict[str, str]:
        return {"pk": keys.customer_pk(customer_id), "sk": keys.BEHAVIOUR}

    def payment_behaviour(self, customer_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=self._behaviour_key(customer_id), ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def count_settlement(self, customer_id: str, invoice_id: str, update: Callable[[dict[str, Any] | None], dict[str, Any]]) -> bool:
        """In one transaction: mark the invoice counted (only once, ever) and write the customer's figures `update`
        makes of the stored ones (conditional on their version). False when the invoice was counted before (also
        when this very write's answer was lost and botocore retried it)."""
        client = self._table.meta.client
        for _ in range(_ATTEMPTS):
            stored = self.payment_behaviour(customer_id)
            version = int(stored.get("version", 0)) if stored else 0
            figures = {name: value for name, value in update(stored).items() if name not in ("pk", "sk", "version")}
            item = {**(stored or {}), **figures, **self._behaviour_key(customer_id), "entity": "payment_behaviour",
                    "version": version + 1}
            try:
                client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": self.table_name, "Key": {"pk": keys.invoice_pk(invoice_id), "sk": keys.META},
                                "UpdateExpression": "SET behaviour_counted = :true",
                                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(behaviour_counted)",
                                "ExpressionAttributeValues": {":true": True}}},
                    {"Put": {"TableName": self.table_name, "Item": item,
                             "ConditionExpression": "attribute_not_exists(pk) OR version = :version",
                             "ExpressionAttributeValues": {":version": version}}},
                ])
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # counted already
                if not (len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed"):
                    raise
        raise RuntimeError(f"the payment figures of customer {customer_id} kept changing; retry")

    def save_risk_band(self, customer_id: str, band: str | None, reason: str, at: datetime, expected: str | None) -> bool:
        """Record a new band if the stored one is still `expected` (of two callers, one records the change)."""
        condition = "attribute_not_exists(band) OR band = :expected" if expected is None else "band = :expected"
        return _written(lambda: self._table.update_item(
            Key=self._behaviour_key(customer_id), UpdateExpression="SET band = :band, band_reason = :reason, band_at = :at, "
                                                                  "entity = :entity",
            ConditionExpression=condition,
            ExpressionAttributeValues={":band": band, ":reason": reason, ":at": to_iso_z(at), ":expected": expected,
                                       ":entity": "payment_behaviour"}))
