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
from arrears.domain.replies import ADDRESS_PREFIX, REPLY_PREFIX
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

    # --- replies (arrears.domain.replies.ReplyLookups) ------------------------------------------------------------
    def find_reply_ref(self, ref: str) -> tuple[str, str, str | None] | None:
        item = self._table.get_item(Key={"pk": f"{REPLY_PREFIX}{ref}", "sk": LOOKUP_SK}, ConsistentRead=True).get("Item")
        return (str(item["invoice_id"]), str(item["customer_id"]), item.get("step_id")) if item else None

    def customers_at(self, address: str) -> list[tuple[str, str]]:
        response = self._table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
            ":pk": f"{ADDRESS_PREFIX}{address.strip().lower()}"}, Limit=20)
        return [(str(item["customer_id"]), str(item["invoice_id"])) for item in response.get("Items", [])]


class ReplyAddresses:
    """The signed Reply-To of a sent message (Ports.reply_to): `reply+<token>@<inbound domain>`, signed with the newest
    key of the SSM SecureString (read again after `max_age_seconds`, so a rotated key takes effect). None when the stack
    receives no replies or the key is not set (the creditor's own address is the Reply-To then)."""

    def __init__(self, domain: str, secret_parameter: str, max_age_seconds: int) -> None:
        self.domain, self.secret_parameter, self.max_age_seconds = domain, secret_parameter, max_age_seconds

    def secrets(self) -> list[str]:
        from arrears.adapters.ssm_parameters import secret_values

        return secret_values(self.secret_parameter, self.max_age_seconds) if self.domain else []

    def __call__(self, invoice_id: str, step_id: str) -> str | None:
        from arrears.domain.replies import reply_address

        secrets = self.secrets()
        return reply_address(invoice_id, step_id, secrets[0], self.domain) if secrets else None
