"""A customer's risk band from its payment behaviour and the policy's rules (issue #20), pure and explained:
every band comes with the sentence that says why, so a person reading the log can check it by hand."""

from __future__ import annotations

from dataclasses import dataclass

from arrears.domain.payment_behaviour import PaymentBehaviour
from arrears.domain.policy.risk import RiskRules


@dataclass(frozen=True)
class RiskBand:
    band: str | None  # None: rules off, or not enough history yet
    reason: str


def risk_band(behaviour: PaymentBehaviour, rules: RiskRules) -> RiskBand:
    if not rules.enabled:
        return RiskBand(None, "the policy gives no risk bands")
    paid = behaviour.invoices_paid
    if paid < rules.minimum_paid_invoices:
        return RiskBand(None, f"{paid} paid invoice(s); a band needs {rules.minimum_paid_invoices}")
    # Exact: total days <= limit * invoices, never a rounded average against the limit.
    index = next(i for i, rule in enumerate(rules.bands)
                 if rule.up_to_days is None or behaviour.days_late_total <= rule.up_to_days * paid)
    rule = rules.bands[index]
    limit = f"up to {rule.up_to_days} days" if rule.up_to_days is not None else "over " + \
        f"{rules.bands[index - 1].up_to_days} days" if index else "any average"
    reasons = [f"average {behaviour.average_days_late} days beyond terms over {paid} paid invoices "
               f"({rule.band}: {limit})"]
    worse = 0
    modifiers = rules.modifiers
    if modifiers.broken_commitments is not None and behaviour.broken_commitments >= modifiers.broken_commitments:
        worse += 1
        reasons.append(f"{behaviour.broken_commitments} broken promise(s) or payment plan(s) "
                       f"(at least {modifiers.broken_commitments}): one band worse")
    if modifiers.disputed_share_percent is not None and \
            100 * behaviour.disputed >= modifiers.disputed_share_percent * paid:
        worse += 1
        reasons.append(f"{behaviour.disputed_share}% of paid invoices disputed "
                       f"(at least {modifiers.disputed_share_percent}%): one band worse")
    band = rules.bands[min(index + worse, len(rules.bands) - 1)].band
    return RiskBand(band, "; ".join(reasons) + (f" -> {band}" if worse else ""))


def band_worsened(rules: RiskRules, before: str | None, after: str | None) -> bool:
    return after is not None and rules.rank(after) > rules.rank(before)


def credit_limit(rules: RiskRules, band: str | None, own_limits: dict[str, int], currency: str) -> int | None:
    """The customer's limit in a currency: the finance team's own, else the policy's default for its band."""
    if currency in own_limits:
        return own_limits[currency]
    if band is None or not rules.enabled:
        return None
    return rules.credit_limits.get(band, {}).get(currency)
