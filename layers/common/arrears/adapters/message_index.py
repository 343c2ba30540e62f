"""The SES message index on the single table (adapter of `arrears.domain.ses_events.MessageIndex`).

`MESSAGE#<SES message id> / META` leads from an email to the invoice whose contact log recorded it (the
contact log writes it, `DynamoStore._index_message`); `MESSAGE#<id> / EVENT#<claim>` claims each SES event once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arrears.adapters import aws
from arrears.adapters.dynamo import put_if_absent
from arrears.domain.clock import to_iso_z
from arrears.domain.ses_events import LOOKUP_SK, MessageRef, message_pk


class DynamoMessageIndex:
    """MessageIndex on the single table (adapter): lookups and once-only event claims under MESSAGE#<id>."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    def find(self, message_id: str) -> MessageRef | None:
        item = self._table.get_item(Key={"pk": message_pk(message_id), "sk": LOOKUP_SK}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return MessageRef(str(item["invoice_id"]), str(item["customer_id"]), item.get("step_id"))

    def claim_event(self, message_id: str, claim_id: str, at: datetime) -> bool:
        return put_if_absent(self._table, {"pk": message_pk(message_id), "sk": f"EVENT#{claim_id}",
                                           "entity": "ses_event_claim", "claimed_at": to_iso_z(at)})

    def release_event(self, message_id: str, claim_id: str) -> None:
        self._table.delete_item(Key={"pk": message_pk(message_id), "sk": f"EVENT#{claim_id}"})
