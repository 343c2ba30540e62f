"""The debtor's portal in real headless Chromium (Debian's, driven by Playwright), over `arrears serve`.

Given Brightwater Logistics' three open invoices with reminders sent, its AP clerk opens the link a fresh-link
email brought, reads the balance, disputes one invoice, promises to pay another, proposes a plan for the third and
changes the AP email; every page passes axe-core with no serious or critical violation, on a desktop and a phone,
with JavaScript off (the pages need none).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears_local.portal import portal_link
from arrears_local.portfolio import DEMO_START
from arrears_local.runtime import LocalRuntime
from arrears_local.serve import LocalServer
from tests.e2e.browser import assert_accessible, browser_page, chromium  # noqa: F401 - the session fixture
from tests.e2e.portal_book import BRIGHTWATER, INVOICES, link_in, open_book
from tests.e2e.serving import serving

DISPUTED, PROMISED, PLANNED, _ = INVOICES


@pytest.fixture(scope="module")
def served():
    with LocalRuntime(start=DEMO_START, iam=True) as runtime:
        open_book(runtime)
        with serving(LocalServer(runtime, clock="virtual")) as url:
            yield runtime, url


def test_a_debtor_acts_on_their_page_in_chromium(chromium, served):  # noqa: F811 - pytest's fixture
    runtime, url = served
    store = DynamoStore(runtime.table_name)
    good = portal_link(runtime, BRIGHTWATER.customer_id, url)
    expired = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    with browser_page(chromium, java_script_enabled=False) as page:
        # Given a link that no longer opens: a page with no data, from which the clerk asks for a fresh one
        page.goto(expired)
        assert "does not open an account" in page.content() and "£" not in page.content()
        assert_accessible(page)
        before = len(runtime.sent_emails())
        page.fill("#link", portal_link(runtime, BRIGHTWATER.customer_id, url))
        page.click("button[type=submit]")
        assert "on its way" in page.content()
        # When they open the link in the email that arrived at the billing address
        email = runtime.sent_emails()[before]
        assert BRIGHTWATER.email in email.destinations[0]
        page.goto(link_in(email.raw_data))
        # Then they see their balance, and the page is accessible
        assert page.locator("h2").first.inner_text().endswith("£1,980.00")
        assert_accessible(page)
        statement = page.url
        # When they dispute the first invoice
        page.click(f"text={DISPUTED.number}")
        assert_accessible(page)
        page.select_option("#reason", "wrong_amount")
        page.fill("#text", "Two routes were cancelled in August")
        page.click("section:has(#dispute) button")
        assert "is in dispute" in page.locator(".notice").inner_text()
        assert_accessible(page)
        # And promise to pay the second in ten days
        page.goto(statement)
        page.click(f"text={PROMISED.number}")
        page.fill("#promised_on", (runtime.now().date() + timedelta(days=10)).isoformat())
        page.click("section:has(#promise) button")
        assert "We will not contact you" in page.locator(".notice").inner_text()
        # And propose a plan for the third
        page.goto(statement)
        page.click(f"text={PLANNED.number}")
        for n, days, amount in ((1, 14, "150.00"), (2, 44, "150.00")):
            page.fill(f"#due_on_{n}", (runtime.now().date() + timedelta(days=days)).isoformat())
            page.fill(f"#amount_{n}", amount)
        page.click("section:has(#plan) button")
        assert "payment plan" in page.locator(".notice").inner_text()
        # And change the AP email
        page.goto(statement)
        page.fill("#email", "payables@brightwater-logistics.example")
        page.click("section:has(#contact) button")
        assert "payables@brightwater-logistics.example" in page.locator(".notice").inner_text()
        assert_accessible(page)
    # Then the invoices are held as the finance API would hold them, with a task for the dispute
    kinds = {i.invoice_id: store.get_invoice(i.invoice_id).hold.kind.value for i in (DISPUTED, PROMISED, PLANNED)}
    assert kinds == {DISPUTED.invoice_id: "dispute", PROMISED.invoice_id: "promise", PLANNED.invoice_id: "payment_plan"}
    assert any(t["kind"] == "review_dispute" and t["invoice_id"] == DISPUTED.invoice_id for t in store.open_tasks())
    assert store.get_customer(BRIGHTWATER.customer_id).email == "payables@brightwater-logistics.example"


def test_the_pages_read_on_a_phone(chromium, served):  # noqa: F811
    runtime, url = served
    with browser_page(chromium, viewport=(375, 740), java_script_enabled=False) as page:
        page.goto(portal_link(runtime, BRIGHTWATER.customer_id, url))
        assert_accessible(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1  # nothing wider than the phone but the tables' own scroll boxes
        page.goto(f"{portal_link(runtime, BRIGHTWATER.customer_id, url)}/invoices/{PLANNED.invoice_id}")
        assert_accessible(page)
