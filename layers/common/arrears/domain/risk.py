"""A customer's risk band from its payment behaviour and the policy's rules (issue #20), pure and explained:
every band comes with the sentence that says why, so a person reading the log can check it by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from arrears.domain.clock import to_iso_z
from arrears.domain.models import Customer, Invoice
from arrears.domain.payment_behaviour import PaymentBehaviour, open_balance
from arrears.domain.policy import Policy
from arrears.domain.policy.risk import RiskRules
from arrears.domain.ports import ContactLog, PolicyRepository, Ports
from arrears.domain.tasks import REVIEW_RISK_BAND


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
    if rule.up_to_days is not None:
        limit = f"up to {rule.up_to_days} days"
    else:
        limit = f"over {rules.bands[index - 1].up_to_days} days" if index else "any average"
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
    """A worse band than before; no band counts as the best (a first band of good is no news, of poor is)."""
    return after is not None and rules.rank(after) > max(rules.rank(before), 0)


def credit_limit(rules: RiskRules, band: str | None, own_limits: dict[str, int], currency: str) -> int | None:
    """The customer's limit in a currency: the finance team's own, else the policy's default for its band."""
    if currency in own_limits:
        return own_limits[currency]
    if band is None or not rules.enabled:
        return None
    return rules.credit_limits.get(band, {}).get(currency)


# --- acting on it when a new invoice starts collection -----------------------------------------------------
REVIEW_CREDIT_LIMIT = "review_credit_limit"
CREDIT_LIMIT_EXCEEDED = "Credit limit exceeded"  # the EventBridge detail-type a SaaS subscribes to
RISK_ACTOR = "risk rules"


def give_band(invoice: Invoice, policy: Policy, store: Any, log: ContactLog, now: datetime) -> RiskBand:
    """The band the policy's rules give the customer of `invoice` from its stored figures. A band other than the
    stored one is recorded (conditional: of two callers at once, one records it) and logged on `invoice` as
    `risk_band_changed` with its reason; a worse one opens a review_risk_band task for a person (to review the
    credit limit and terms), due `review_after_days` later, which no settlement closes. Idempotent: the same figures
    give the same band, so nothing is logged twice."""
    rules = policy.risk
    stored = store.payment_behaviour(invoice.customer_id) or {}
    verdict = risk_band(PaymentBehaviour.from_item(stored), rules)
    before = stored.get("band")
    if verdict.band != before and store.save_risk_band(invoice.customer_id, verdict.band, verdict.reason, now, before):
        log.append(invoice.invoice_id, invoice.customer_id, now, kind="risk_band_changed", actor=RISK_ACTOR,
                   policy_id=policy.policy_id, policy_version=policy.version,
                   details={"from": before, "to": verdict.band, "reason": verdict.reason})
        if band_worsened(rules, before, verdict.band):
            store.open_task(invoice.invoice_id, REVIEW_RISK_BAND, now + timedelta(days=rules.review_after_days), {
                "customer_id": invoice.customer_id, "reason": f"risk band worsened from {before or 'none'} to "
                                                              f"{verdict.band}: {verdict.reason}"})
    return verdict


def band_after_settlement(invoice: Invoice | None, policies: PolicyRepository, store: Any, log: ContactLog,
                          now: datetime) -> RiskBand | None:
    """When a billing change has settled `invoice` (its figures counted): the band is given again at once, under
    the rules of the policy version it was collected under, so a change of band is logged on the invoice whose
    settlement made it (and a worse band asks for a review now, not when the customer's next invoice starts).
    None: not settled, never collected (no pinned policy), or rules off."""
    if invoice is None or not invoice.is_settled or invoice.policy_id is None or invoice.policy_version is None:
        return None
    policy = policies.get(invoice.policy_id, invoice.policy_version)
    return give_band(invoice, policy, store, log, now) if policy.risk.enabled else None


def start_with_risk(invoice: Invoice, customer: Customer, policy: Policy, ports: Ports, now: datetime) -> Customer:
    """When an invoice starts collection: give the customer its band under the policy's rules (`give_band`: a
    change since the last settlement, e.g. under a newer policy version, is logged on this invoice), and answer the
    customer as this invoice starts on it: in the band's segment, unless the finance team chose the customer's segment. Then check the
    credit limit. Nothing changes under a policy whose risk rules are off."""
    rules = policy.risk
    if not rules.enabled:
        return customer
    store: Any = ports.store
    verdict = give_band(invoice, policy, store, ports.log, now)
    own = store.customer_settings(customer.customer_id)
    segment = rules.segments.get(verdict.band or "")
    if segment and "segment" not in own:
        customer = customer.model_copy(update={"segment": segment})
    _check_credit_limit(invoice, customer, rules, verdict.band, own.get("credit_limits") or {}, ports, now)
    return customer


def _check_credit_limit(invoice: Invoice, customer: Customer, rules: RiskRules, band: str | None,
                        own_limits: dict[str, int], ports: Ports, now: datetime) -> None:
    """This invoice took the customer's exposure (open balance) in its currency over the limit: an event for the SaaS
    (to hold new orders or service), a task for a person, and a log entry, once per invoice. A retried start that
    died before the entry publishes the event again (EventBridge delivers at least once anyway: a consumer keys on
    the invoice id) and finds the same task (due from the invoice's issue)."""
    limit = credit_limit(rules, band, own_limits, invoice.currency)
    if limit is None:
        return
    exposure = open_balance(ports.store.invoices_of(customer.customer_id)).get(invoice.currency, 0)
    if exposure <= limit or exposure - invoice.amount_remaining > limit:
        return  # under the limit, or over it before this invoice (crossed then, reviewed then)
    if any(entry.kind == "credit_limit_exceeded" for entry in ports.log.entries(invoice.invoice_id)):
        return
    detail = {"customer_id": customer.customer_id, "customer_name": customer.name, "invoice_id": invoice.invoice_id,
              "invoice_number": invoice.number, "currency": invoice.currency, "credit_limit": limit,
              "exposure": exposure, "risk_band": band, "limit_source": "customer" if invoice.currency in own_limits else "band"}
    if ports.events is not None:
        ports.events.publish(CREDIT_LIMIT_EXCEEDED, {**detail, "at": to_iso_z(now)})
    ports.store.open_task(invoice.invoice_id, REVIEW_CREDIT_LIMIT, invoice.issued_at, {
        **detail, "reason": f"exposure {exposure} {invoice.currency} (minor units) is over the credit limit {limit}"})
    ports.log.append(invoice.invoice_id, invoice.customer_id, now, kind="credit_limit_exceeded", actor=RISK_ACTOR,
                     details=detail)
