"""The policy's `risk` section (new in default v4, issue #20): risk bands from payment history, the segment a
band's new invoices start in, and default credit limits per band. A version published before it reads back
with `enabled: false`: no band, no segment by band, no default limit (the behaviour it had)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

BAND_NAME = r"^[a-z0-9_]{1,20}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandRule(_Model):
    """A band for customers whose average days beyond terms is at most `up_to_days` (none: any average)."""

    band: str = Field(pattern=BAND_NAME)
    up_to_days: int | None = Field(default=None, ge=0, le=3650)


class RiskModifiers(_Model):
    """What moves a customer one band worse than its average days say (each at most once)."""

    broken_commitments: int | None = Field(
        default=2, ge=1, le=100, description="this many broken promises and payment plans together: one band worse")
    disputed_share_percent: int | None = Field(
        default=25, ge=1, le=100, description="at least this share of paid invoices disputed: one band worse")


class RiskRules(_Model):
    enabled: bool = Field(default=False, description="off: no band is given (every version published before v4)")
    minimum_paid_invoices: int = Field(default=3, ge=1, le=100, description="no band before this many paid invoices")
    bands: tuple[BandRule, ...] = Field(
        default=(BandRule(band="good", up_to_days=15), BandRule(band="fair", up_to_days=45),
                 BandRule(band="poor", up_to_days=90), BandRule(band="high_risk")),
        min_length=1, description="best first, by average days beyond terms; the last one takes any average")
    modifiers: RiskModifiers = RiskModifiers()
    segments: dict[str, str] = Field(
        default_factory=dict, description="band -> the segment its customers' new invoices start in (the finance "
                                          "team's own segment for a customer wins)")
    credit_limits: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="band -> currency -> default credit limit in minor units (the finance "
                                          "team's own limit for a customer wins)")
    review_after_days: int = Field(default=7, ge=0, le=90,
                                   description="a band that worsens opens a review_risk_band task due this many days later")

    @model_validator(mode="after")
    def _sensible(self) -> RiskRules:
        names = [rule.band for rule in self.bands]
        if len(set(names)) != len(names):
            raise ValueError("risk band names must be unique")
        limits = [rule.up_to_days for rule in self.bands]
        if limits[-1] is not None or any(limit is None for limit in limits[:-1]):
            raise ValueError("every risk band but the last needs up_to_days; the last takes any average (no up_to_days)")
        if limits[:-1] != sorted(set(limits[:-1])):  # type: ignore[type-var]
            raise ValueError("risk bands go best first: up_to_days must rise")
        unknown = sorted((set(self.segments) | set(self.credit_limits)) - set(names))
        if unknown:
            raise ValueError(f"unknown risk bands {unknown}: the bands are {', '.join(names)}")
        for band, limits_of_band in self.credit_limits.items():
            if any(len(currency) != 3 or not currency.isupper() or amount < 0 for currency, amount in limits_of_band.items()):
                raise ValueError(f"credit_limits.{band}: ISO 4217 currency -> minor units (0 or more)")
        return self

    def rank(self, band: str | None) -> int:
        """0 for the best band; -1 for no band (or one this version does not name)."""
        names = [rule.band for rule in self.bands]
        return names.index(band) if band in names else -1
