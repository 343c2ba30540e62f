"""The debtor's portal in real headless Chromium (Debian's, driven by Playwright), over `arrears serve`.

Given Brightwater Logistics' three open invoices and the reminders the workflow sent them (each carrying the
portal link: the stack's PortalPublicUrl is the server's own address), its AP clerk opens the link in the last
reminder, reads the balance, disputes one invoice, promises to pay another, proposes a plan for the third and
changes the AP email, with JavaScript off (the pages need none). Every page passes axe-core with no serious or
critical violation (axe runs in a second, JavaScript-enabled page holding the same document: axe cannot run where
scripts are off). Then the runtime's clock runs on: nothing more about the disputed invoice, nothing about the
promised one until the date plus the policy's grace, then its broken-promise message, to the new address.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears.domain.policy import load_policy_file
from arrears_local.portal import portal_link
from arrears_local.portfolio import DEMO_START
from arrears_local.runtime import LocalRuntime
from arrears_local.serve import LocalServer
from tests.e2e.browser import assert_accessible, browser_page, chromium  # noqa: F401 - the session fixture
from tests.e2e.portal_book import BRIGHTWATER, INVOICES, link_in, open_book
from tests.e2e.serving import free_port, serving

DISPUTED, PROMISED, PLANNED, _ = INVOICES
NEW_AP = "payables@brightwater-logistics.example"
CONTACTS = ("email", "letter")  # what the workflow sends (the portal's own confirmations are portal_email)


@pytest.fixture(scope="module")
def served():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with LocalRuntime(start=DEMO_START, iam=True, parameters={"PortalPublicUrl": url}) as runtime:
        open_book(runtime)
        with serving(LocalServer(runtime, clock="virtual"), port=port) as served_url:
            assert served_url == url
            yield runtime, url


@pytest.fixture
def checker(chromium):  # noqa: F811
    """axe-core on a copy of a page's document, in a page where axe's script can run."""
    with browser_page(chromium) as axe_page:
        def check(page) -> None:
            axe_page.set_content(page.content())
            assert_accessible(axe_page)
        yield check


def contacts_after(store: DynamoStore, invoice_id: str, since) -> list:
    return [e for e in store.entries(invoice_id) if e.kind in CONTACTS and e.at > since]


def test_a_debtor_acts_from_a_reminder_in_chromium(chromium, checker, served):  # noqa: F811 - pytest's fixture
    runtime, url = served
    store = DynamoStore(runtime.table_name)
    policy = load_policy_file(runtime.root / "policies" / "default.yaml")
    # Given the last reminder the workflow sent Brightwater's AP address
    reminders = [m for m in runtime.sent_emails() if BRIGHTWATER.email in m.destinations[0]]
    assert reminders, "the workflow sent Brightwater nothing"
    reminder = reminders[-1]
    assert "overdue" in str(reminder.raw_data)
    with browser_page(chromium, java_script_enabled=False) as page:
        # When the clerk opens the link it carries
        link = link_in(reminder.raw_data)
        assert link.startswith(f"{url}/portal/")
        page.goto(link)
        # Then they see their balance, and the page is accessible
        assert page.locator("h2").first.inner_text().endswith("£1,980.00")
        checker(page)
        statement = page.url
        acted_at = runtime.now()
        # When they dispute the first invoice
        page.click(f"text={DISPUTED.number}")
        checker(page)
        page.select_option("#reason", "wrong_amount")
        page.fill("#text", "Two routes were cancelled in August")
        page.click("section:has(#dispute) button")
        assert "is in dispute" in page.locator(".notice").inner_text()
        checker(page)
        # And promise to pay the second in ten days
        promised_on = runtime.now().date() + timedelta(days=10)
        page.goto(statement)
        page.click(f"text={PROMISED.number}")
        page.fill("#promised_on", promised_on.isoformat())
        page.click("section:has(#promise) button")
        assert "We will not contact you" in page.locator(".notice").inner_text()
        checker(page)
        # And propose a plan for the third (£300.00: within the policy's auto_accept_plan_up_to, agreed at once)
        assert PLANNED.lines[0][1] <= policy.portal.auto_accept_plan_up_to["GBP"]
        page.goto(statement)
        page.click(f"text={PLANNED.number}")
        for n, days, amount in ((1, 14, "150.00"), (2, 44, "150.00")):
            page.fill(f"#due_on_{n}", (runtime.now().date() + timedelta(days=days)).isoformat())
            page.fill(f"#amount_{n}", amount)
        page.click("section:has(#plan) button")
        assert "payment plan" in page.locator(".notice").inner_text()
        checker(page)
        # And change the AP email
        page.goto(statement)
        page.fill("#email", NEW_AP)
        page.click("section:has(#contact) button")
        assert NEW_AP in page.locator(".notice").inner_text()
        checker(page)
    # Then the invoices are held as the finance API would hold them: the dispute with a task, the plan agreed
    kinds = {i.invoice_id: store.get_invoice(i.invoice_id).hold.kind.value for i in (DISPUTED, PROMISED, PLANNED)}
    assert kinds == {DISPUTED.invoice_id: "dispute", PROMISED.invoice_id: "promise", PLANNED.invoice_id: "payment_plan"}
    tasks = store.open_tasks()
    assert any(t["kind"] == "review_dispute" and t["invoice_id"] == DISPUTED.invoice_id for t in tasks)
    assert not any(t["kind"] == "approve_payment_plan" for t in tasks)
    assert store.get_customer(BRIGHTWATER.customer_id).email == NEW_AP
    # When the clock runs to the last day of the promise's grace
    grace_ends = promised_on + timedelta(days=policy.promise_grace_days)
    runtime.run_until(acted_at.replace(year=grace_ends.year, month=grace_ends.month, day=grace_ends.day, hour=0))
    # Then nothing went out about the disputed or the promised invoice
    assert contacts_after(store, DISPUTED.invoice_id, acted_at) == []
    assert contacts_after(store, PROMISED.invoice_id, acted_at) == []
    # When the grace is over with the promise unpaid
    runtime.run_until(runtime.now() + timedelta(days=7))
    # Then the workflow resumes for the promised invoice, at the new AP address; the disputed one stays quiet
    resumed = contacts_after(store, PROMISED.invoice_id, acted_at)
    assert resumed and resumed[0].recipient == NEW_AP, resumed
    assert resumed[0].at.date() >= grace_ends
    # And every message the workflow sent Brightwater since goes to the new address, never the old one
    since = [e for i in INVOICES[:3] for e in contacts_after(store, i.invoice_id, acted_at)]
    assert since and {e.recipient for e in since} == {NEW_AP}
    assert contacts_after(store, DISPUTED.invoice_id, acted_at) == []
    assert store.get_invoice(DISPUTED.invoice_id).hold.kind.value == "dispute"


def test_a_link_that_no_longer_opens_asks_for_a_fresh_one(chromium, checker, served):  # noqa: F811
    runtime, url = served
    old = portal_link(runtime, BRIGHTWATER.customer_id, url)
    tampered = old[:-3] + ("AAA" if not old.endswith("AAA") else "BBB")
    revoked = runtime.request("POST", f"/customers/{BRIGHTWATER.customer_id}/portal-links/revoke",
                              b'{"reason": "a link was forwarded outside the company"}', {"Content-Type": "application/json"})
    assert revoked.status_code == 200
    with browser_page(chromium, java_script_enabled=False) as page:
        # Given links that no longer open (tampered with; revoked by finance): a page with no data
        page.goto(tampered)
        assert "does not open an account" in page.content() and "£" not in page.content()
        page.goto(old)
        assert "does not open an account" in page.content() and "£" not in page.content()
        checker(page)
        # When the clerk asks for a fresh one
        before = len(runtime.sent_emails())
        page.fill("#link", old)
        page.click("button[type=submit]")
        assert "on its way" in page.content()
        checker(page)
        # Then it goes to the billing address on file, and opens their account
        email = runtime.sent_emails()[before]
        assert store_email(runtime) in email.destinations[0]
        assert link_in(email.raw_data) != old
        page.goto(link_in(email.raw_data))
        assert page.locator("h1").first.inner_text().endswith(BRIGHTWATER.name)


def store_email(runtime: LocalRuntime) -> str:
    return DynamoStore(runtime.table_name).get_customer(BRIGHTWATER.customer_id).email


def test_the_pages_read_on_a_phone(chromium, checker, served):  # noqa: F811
    runtime, url = served
    with browser_page(chromium, viewport=(375, 740), java_script_enabled=False) as page:
        page.goto(portal_link(runtime, BRIGHTWATER.customer_id, url))
        checker(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1  # nothing wider than the phone but the tables' own scroll boxes
        page.goto(f"{portal_link(runtime, BRIGHTWATER.customer_id, url)}/invoices/{PLANNED.invoice_id}")
        checker(page)
        # And the collections policy, from the statement's link
        page.goto(portal_link(runtime, BRIGHTWATER.customer_id, url))
        page.click("a[href$='/policy']")
        assert page.locator("h1").inner_text() and page.url.endswith("/policy")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        checker(page)
