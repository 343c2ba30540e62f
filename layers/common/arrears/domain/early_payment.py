"""Early-payment discounts (issue #20), pure: what the offer is for an invoice, and whether a payment took it.

The offer: `percent` off the amount due (rounded half up to the minor unit) if at least the discounted amount is
paid by the last day of the window (the issue date in the policy's zone plus `within_days`). Taken: the invoice's
log holds a payment (partial or full) as of a day inside the window that brought the amount paid to at least
the discounted amount. Then collection stops (no more messages) and a person issues the credit note for the
discount in the billing platform (the platform's own balance closes when it arrives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from arrears.domain.clock import parse_iso
from arrears.domain.models import ContactEntry, Invoice
from arrears.domain.policy import Policy

ISSUE_CREDIT_NOTE = "issue_credit_note"
_PAYMENT_KINDS = ("partial_payment", "payment")


@dataclass(frozen=True)
class EarlyPaymentOffer:
    percent: Decimal
    discount_minor: int
    pay_minor: int  # what settles the invoice inside the window
    until: date  # the last day a payment counts


def early_payment_offer(invoice: Invoice, policy: Policy, zone: tzinfo) -> EarlyPaymentOffer | None:
    """The discount the invoice's pinned segment offers (None: none, or nothing left to discount)."""
    terms = policy.early_payment_discount.get(invoice.segment or policy.default_segment)
    if terms is None or invoice.amount_due <= 0:
        return None
    discount = int((Decimal(invoice.amount_due) * terms.percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    until = invoice.issued_at.astimezone(zone).date() + timedelta(days=terms.within_days)
    return EarlyPaymentOffer(terms.percent, discount, invoice.amount_due - discount, until)


def paid_early(offer: EarlyPaymentOffer, entries: Sequence[ContactEntry], zone: tzinfo) -> ContactEntry | None:
    """The payment entry that took the offer, if one did."""
    for entry in entries:
        if entry.kind in _PAYMENT_KINDS and "as_of" in entry.details and \
                int(entry.details.get("amount_paid", 0)) >= offer.pay_minor and \
                parse_iso(entry.details["as_of"]).astimezone(zone).date() <= offer.until:
            return entry
    return None


def open_offer(invoice: Invoice, policy: Policy, zone: tzinfo, today: date) -> EarlyPaymentOffer | None:
    """The early-payment discount as a message or statement states it: while it can still be taken (`today`, the
    debtor's calendar day, inside the window) and has not been (less than the discounted amount paid so far)."""
    offer = early_payment_offer(invoice, policy, zone)
    return offer if offer is not None and today <= offer.until and invoice.amount_paid < offer.pay_minor else None
