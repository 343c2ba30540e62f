"""EventBridge (adapter): events other systems act on, e.g. a customer over its credit limit (issue #20)."""

from __future__ import annotations

import json
from typing import Any

from arrears.adapters import aws

SOURCE = "arrears"


class EventBridgePublisher:
    """Implements arrears.domain.ports.EventPublisher on one bus."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        answer = aws.client("events").put_events(Entries=[{
            "EventBusName": self.bus_name, "Source": SOURCE, "DetailType": detail_type,
            "Detail": json.dumps(detail, sort_keys=True)}])
        if answer.get("FailedEntryCount"):
            # Raised, so the step retries: a lost event would leave the SaaS serving a customer over its limit.
            raise RuntimeError(f"EventBridge refused the event: {answer['Entries'][0].get('ErrorCode')}")
