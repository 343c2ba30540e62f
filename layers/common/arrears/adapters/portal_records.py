"""The portal's own records in the single table (adapter): link generations, daily views, request counters.

CUSTOMER#id / PORTAL              the customer's link generation (a revocation raises it; absent: 1)
CUSTOMER#id / PORTAL_VIEW#day     the first portal view of a day ("statement viewed" is logged once a day)
PORTAL_RATE#scope / window        how many fresh links a customer or a source asked for in a window
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arrears.adapters import aws
from arrears.adapters.dynamo import _written, put_if_absent
from arrears.domain.clock import to_iso_z
from arrears.domain import table_keys as keys

PORTAL = "PORTAL"
FIRST_GENERATION = 1


class PortalRecords:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    def generation(self, customer_id: str) -> int:
        item = self._table.get_item(Key={"pk": keys.customer_pk(customer_id), "sk": PORTAL}, ConsistentRead=True).get("Item")
        return int(item["generation"]) if item else FIRST_GENERATION

    def revoke(self, customer_id: str, at: datetime, actor: str) -> int:
        """Raise the customer's generation: every link made before stops working. The new generation."""
        answer = self._table.update_item(
            Key={"pk": keys.customer_pk(customer_id), "sk": PORTAL},
            UpdateExpression="SET generation = if_not_exists(generation, :first) + :one, entity = :entity, "
                             "revoked_at = :at, revoked_by = :actor",
            ExpressionAttributeValues={":first": FIRST_GENERATION, ":one": 1, ":entity": "portal_links", ":at": to_iso_z(at),
                                       ":actor": actor},
            ReturnValues="UPDATED_NEW")
        return int(answer["Attributes"]["generation"])

    def first_view_of_day(self, customer_id: str, day: str) -> bool:
        """True for the customer's first portal view on `day` (YYYY-MM-DD), False after."""
        return put_if_absent(self._table, {"pk": keys.customer_pk(customer_id), "sk": f"PORTAL_VIEW#{day}",
                                           "entity": "portal_view"})

    def take_request(self, scope: str, window: str, limit: int) -> bool:
        """Count one request of `scope` (a customer, a source) in `window`; False once `limit` were counted."""
        return _written(lambda: self._table.update_item(
            Key={"pk": f"PORTAL_RATE#{scope}", "sk": window},
            UpdateExpression="ADD requests :one SET entity = :entity",
            ConditionExpression="attribute_not_exists(requests) OR requests < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":entity": "portal_rate"}))

