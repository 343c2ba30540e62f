"""The payment behaviour items and the finance team's customer settings, in memory (as DynamoStore keeps them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from arrears.domain.clock import to_iso_z
from arrears.domain.models import Customer


class MemoryBehaviourItems:
    customers: dict[str, Customer]

    def __init__(self) -> None:
        self.behaviour: dict[str, dict[str, Any]] = {}
        self.counted_invoices: set[str] = set()
        self.settings: dict[str, dict[str, Any]] = {}

    def payment_behaviour(self, customer_id: str) -> dict[str, Any] | None:
        stored = self.behaviour.get(customer_id)
        return dict(stored) if stored is not None else None

    def count_settlement(self, customer_id: str, invoice_id: str, update: Callable[[dict[str, Any] | None], dict[str, Any]]) -> bool:
        if invoice_id in self.counted_invoices:
            return False
        stored = self.payment_behaviour(customer_id)
        self.behaviour[customer_id] = {**(stored or {}), **update(stored),
                                       "version": int((stored or {}).get("version", 0)) + 1}
        self.counted_invoices.add(invoice_id)
        return True

    def save_risk_band(self, customer_id: str, band: str | None, reason: str, at: datetime, expected: str | None) -> bool:
        stored = self.behaviour.setdefault(customer_id, {})
        if stored.get("band") != expected:
            return False
        stored.update(band=band, band_reason=reason, band_at=to_iso_z(at))
        return True

    def customer_settings(self, customer_id: str) -> dict[str, Any]:
        return dict(self.settings.get(customer_id, {}))

    def save_customer_settings(self, customer_id: str, settings: dict[str, Any], at: datetime, actor: str) -> None:
        """As DynamoStore: the finance team's values over the platform's record (the customer read back has them)."""
        self.settings[customer_id] = dict(settings)
        customer = self.customers.get(customer_id)
        if customer is not None:
            self.customers[customer_id] = customer.model_copy(
                update={name: value for name, value in settings.items() if name in Customer.model_fields})
