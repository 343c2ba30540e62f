"""A small book for the portal's tests: Brightwater Logistics (en-GB) owes three invoices, Müller & Söhne one.

Their Stripe invoices arrive signed on 1 September 2026; the clock then runs to 12 October, so reminders went out.
"""

from __future__ import annotations

import re
from datetime import timedelta

from arrears_local.portfolio import CUSTOMERS, DEMO_START
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.stripe_events import SampleInvoice, invoice_event, signed_delivery

BRIGHTWATER, MUELLER = CUSTOMERS[0], CUSTOMERS[1]
DUE = DEMO_START + timedelta(days=14)
INVOICES = [
    SampleInvoice("in_1PortalA0000000001", "BW-2026-0101", BRIGHTWATER, "GBP", (("Route planning, August", 120000),), DEMO_START, DUE),
    SampleInvoice("in_1PortalA0000000002", "BW-2026-0102", BRIGHTWATER, "GBP", (("Fleet telematics, August", 48000),), DEMO_START, DUE),
    SampleInvoice("in_1PortalA0000000003", "BW-2026-0103", BRIGHTWATER, "GBP", (("Support plan, Q3", 30000),), DEMO_START, DUE),
    SampleInvoice("in_1PortalB0000000001", "MS-2026-0201", MUELLER, "EUR", (("Lagerverwaltung, August", 99000),), DEMO_START, DUE),
]
RAN_UNTIL = DEMO_START + timedelta(days=41)
HOST = "127.0.0.1:8000"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def open_book(runtime: LocalRuntime) -> None:
    for invoice in INVOICES:
        body, headers = signed_delivery(invoice_event(invoice, "invoice.finalized", DEMO_START), LOCAL_STRIPE_SECRET, DEMO_START)
        assert runtime.request("POST", "/webhooks/stripe", body, headers).status_code == 200
    runtime.run_until(RAN_UNTIL)


def csrf_of(page: str, action: str) -> str:
    """The CSRF token of the form posting to `action` (the end of its path) on a page."""
    match = re.search(r'action="[^"]*/' + re.escape(action) + r'">\s*<input type="hidden" name="csrf" value="([^"]+)"', page)
    assert match, f"no form for {action}"
    return match.group(1)


def link_in(raw: str | bytes) -> str:
    """The portal link in an email's plain-text body."""
    from email import message_from_bytes, policy

    message = message_from_bytes(raw.encode() if isinstance(raw, str) else raw, policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/portal/[A-Za-z0-9_.-]+", text)
    assert match, text
    return match.group(0)
