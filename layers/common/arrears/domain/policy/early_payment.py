"""The policy's `early_payment_discount` (new in default v4, issue #20): per segment, a discount for paying within
`within_days` of the invoice's issue date. Versions published before it read back with none."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class EarlyPaymentTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    percent: Decimal = Field(gt=0, lt=50, decimal_places=2, description="e.g. 2 or 1.5: off the amount due")
    within_days: int = Field(ge=1, le=60, description="days from the issue date, the issue day not counted")
