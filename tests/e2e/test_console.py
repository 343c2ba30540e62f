"""The finance team's console in real headless Chromium, against `arrears serve` with the sample book.

Given the local runtime serving the sample book with its virtual clock moved ten weeks on (the debtors have
phone numbers the finance team set, so the call tasks name them), the console at /console/ is driven as a
credit controller would: every figure it shows is checked against what the finance API answers over HTTP.
Screenshots of each main view go to docs/screenshots/ with ARREARS_SCREENSHOTS=1 (else to a temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from samtranslator.yaml_helper import yaml_parse

from arrears.domain.policy import load_policy_file
from arrears_local.console_files import dist
from arrears_local.demo import schedule_deliveries
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, project_root
from arrears_local.serve import LocalServer
from tests.e2e.browser import assert_accessible, browser_page, chromium  # noqa: F401  (fixture)
from tests.e2e.serving import serving

POLICY = load_policy_file(project_root() / "policies" / "default.yaml")
BOOK = sample_portfolio(DEMO_START, 12)
SCREENSHOTS = project_root() / "docs" / "screenshots"
LOCAL_ACTOR = "user/local-finance"


@pytest.fixture(scope="module")
def base_url():
    if not (dist() / "index.html").is_file():
        pytest.fail("the console is not built: `make setup` builds console/dist")
    with LocalRuntime(start=DEMO_START) as runtime:
        scheduled, _ = schedule_deliveries(runtime, BOOK, POLICY, [])
        server = LocalServer(runtime, clock="virtual", scheduled=scheduled)
        with serving(server) as url:
            server.advance_to(DEMO_START + timedelta(days=35))  # every invoice has arrived, no call is due yet
            listed = http(url, "GET", "/invoices?state=open&limit=200")[1]["invoices"]
            for n, customer_id in enumerate(sorted({i["customer_id"] for i in listed})):
                status, _ = http(url, "PATCH", f"/customers/{customer_id}", {"phone": f"+44 20 7946 {n:04d}"})
                assert status == 200
            server.advance_to(DEMO_START + timedelta(days=70))  # the +15 calls are due, nothing is referred yet
            yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    if os.environ.get("ARREARS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


def http(base_url: str, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def open_invoices(base_url: str) -> list[dict]:
    return [i for i in http(base_url, "GET", "/invoices?state=open&limit=200")[1]["invoices"] if i["hold"] is None]


def open_book_dry_run(base_url: str, source: str) -> dict:
    """The open book's dry run as the API runs it: a 202 job, polled, its whole result behind a presigned link."""
    status, job = http(base_url, "POST", "/policies/default/dry-run", {"source": source})
    assert (status, job["status"]) == (202, "running"), job
    status, job = http(base_url, "GET", f"/dry-runs/{job['job_id']}")  # serve runs the dry-run function before answering
    assert (status, job["status"]) == (200, "done"), job
    with urllib.request.urlopen(job["result_url"], timeout=60) as response:
        return json.loads(response.read())


def visit(page, base_url: str, view: str, ready: str):
    page.goto(f"{base_url}/console/#/{view}")
    page.wait_for_selector(ready, timeout=30_000)
    return page


def test_today_lists_the_calls_to_make_with_their_numbers_and_the_debtors_local_time(chromium, base_url, shots):  # noqa: F811
    calls = [t for t in http(base_url, "GET", "/tasks")[1]["tasks"] if t["kind"] == "call_debtor"]
    assert calls and all(t["details"]["phone"] for t in calls)
    with browser_page(chromium) as page:
        visit(page, base_url, "today", "[data-group=calls] li.task")
        items = page.locator("[data-group=calls] li.task")
        assert items.count() == len(calls)
        shown = {items.nth(n).get_attribute("data-task-id"): items.nth(n).inner_text() for n in range(items.count())}
        for task in calls:
            text = shown[task["task_id"]]
            assert task["details"]["phone"] in text and task["details"]["reference"] in text
            assert f"({task['details']['call_window']['timezone']})" in text and "Their time now: unknown" not in text
        assert page.locator("[data-group=calls] a.phone").first.get_attribute("href").startswith("tel:+44207946")
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-today.png"))


def test_pausing_an_invoice_from_its_page_puts_a_hold_placed_entry_with_the_principal_in_its_timeline(chromium, base_url, shots):  # noqa: F811
    invoice = open_invoices(base_url)[0]
    with browser_page(chromium) as page:
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "details[data-action=pause]")
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-invoice.png"))
        page.click("details[data-action=pause] summary")
        page.fill("form[data-action=pause] input[name=until]", "2027-01-15")
        page.fill("form[data-action=pause] input[name=reason]", "AP migration <script>alert(1)</script>")
        page.click("form[data-action=pause] button[type=submit]")
        row = page.locator("tr", has=page.locator("[data-kind=hold_placed]"))
        row.wait_for(timeout=30_000)
        assert LOCAL_ACTOR in row.inner_text()
        assert "AP migration <script>" in page.locator("dl.facts-list").inner_text()  # the reason shown as text, inert
    hold = http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]["invoice"]["hold"]
    assert hold["kind"] == "pause" and hold["actor"].endswith(LOCAL_ACTOR) and hold["until"].startswith("2027-01-1")


def test_a_refused_escalation_shows_the_apis_reason_in_words(chromium, base_url):  # noqa: F811
    invoice = open_invoices(base_url)[-1]
    assert http(base_url, "POST", f"/invoices/{invoice['invoice_id']}/dispute", {"reason": "wrong PO number"})[0] == 200
    invoice_detail = http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]
    before = invoice_detail["timeline"]
    with browser_page(chromium) as page:
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "details[data-action=escalate]")
        page.click("details[data-action=escalate] summary")
        page.click("form[data-action=escalate] button[type=submit]")
        # Sending cannot be undone: the page asks first, naming the debtor
        dialog = page.locator("dialog[open]")
        assert "cannot be recalled" in dialog.inner_text() and invoice_detail["customer_name"] in dialog.inner_text()
        dialog.locator("button[value=confirm]").click()
        alert = page.locator("form[data-action=escalate] [role=alert]")
        alert.wait_for(timeout=30_000)
        shown = alert.inner_text()
    status, refused = http(base_url, "POST", f"/invoices/{invoice['invoice_id']}/escalate", {"reason": ""})
    assert (status, refused["error"]) == (409, "on_hold")
    assert refused["message"] in shown and "release the hold first" in shown and "on_hold" in shown
    assert http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]["timeline"] == before  # nothing was sent


def test_the_aging_charts_totals_equal_the_aging_report_and_the_other_charts_the_apis_figures(chromium, base_url, shots):  # noqa: F811
    report = http(base_url, "GET", "/reports/aging")[1]
    expected = {currency: sum(b["amount"] for b in buckets.values()) / 100 for currency, buckets in report["currencies"].items()}
    assert len(expected) >= 2 and all(expected.values())
    with browser_page(chromium) as page:
        visit(page, base_url, "reports", "#r-stage ~ .report table")
        drawn = json.loads(page.locator("#r-aging ~ .report canvas").get_attribute("data-totals"))
        assert drawn == pytest.approx(expected)
        for currency, total in expected.items():  # the table beside the chart says the same, in the user's locale
            assert re.sub(r"[^\d.]", "", page.locator(f"[data-total={currency}]").inner_text()) == f"{total:.2f}"
        assert page.locator("canvas").count() == 3
        # The outcomes per stage are the API's for the period the table names
        page.wait_for_selector("#r-coll ~ .report table")
        start, end = re.fullmatch(r"(\S+) to (\S+)", page.locator("#r-stage ~ .report caption").inner_text()).groups()
        stages = http(base_url, "GET", f"/reports/stages?from={start}&to={end}")[1]["stages"]
        drawn = json.loads(page.locator("#r-stage ~ .report canvas").get_attribute("data-totals"))
        assert drawn == {"steps done": sum(s["steps_done"] for s in stages.values()),
                         "invoices recovered": sum(s["recovered_count"] for s in stages.values())} and drawn["steps done"]
        # And a whole month's DSO, CEI and days to collect are the API's for that month
        months = {}
        for row in page.locator("#r-coll ~ .report tbody tr").all():
            cells = row.locator("td").all_inner_texts()
            months.setdefault(cells[0], {})[cells[1]] = cells[2:5]
        month = sorted(months)[-2]  # the last whole month (the newest ends on the report's day)
        following = f"{int(month[:4]) + int(month[5:]) // 12}-{int(month[5:]) % 12 + 1:02d}-01"
        answered = http(base_url, "GET", f"/reports/collections?from={month}-01&to={following}")[1]["currencies"]
        assert {c["currency"] for c in answered} == set(months[month])
        for figures in answered:
            shown = months[month][figures["currency"]]
            for text, value in zip(shown, (figures["dso_days"], figures["cei_percent"], figures["average_days_to_collect"])):
                assert text == "—" if value is None else float(text.replace(",", "")) == pytest.approx(value, abs=0.05)
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-reports.png"), full_page=True)


def test_a_policy_drafts_dry_run_shows_its_differences_from_the_current_plans(chromium, base_url, shots):  # noqa: F811
    current = http(base_url, "GET", "/policies/default")[1]
    source = current["source"]
    standard_final = "{id: final_notice, stage: final_notice, offset_days: 60,"  # the standard segment's, still ahead
    assert source.count(standard_final) == 1
    draft = source.replace(standard_final, "{id: final_notice, stage: final_notice, offset_days: 50,")
    expected = open_book_dry_run(base_url, draft)
    moved = [(i["invoice_id"], c["step_id"]) for i in expected["invoices"] for c in i["changes"]]
    assert moved and {step for _, step in moved} == {"final_notice"}
    with browser_page(chromium) as page:
        visit(page, base_url, "policies", "ol.ladder")
        segments = yaml.safe_load(source)["segments"]
        assert page.locator("section.segment h3").all_inner_texts() == [f"Segment {name}" for name in segments]
        for name, segment in segments.items():  # each step on its segment's timeline, at its offset from the due date
            drawn = page.locator(f"section.segment[aria-labelledby='seg-{name}'] li.step .id").all_inner_texts()
            assert drawn == [step["id"] for step in segment["steps"]]
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-policies.png"), full_page=True)
        page.fill("textarea[name=source]", draft)
        page.click("text=Dry run against the open book")
        table = page.locator(".dry-run table").first
        table.wait_for(timeout=60_000)
        rows = table.locator("tbody tr")
        assert rows.count() == len(moved)
        assert table.inner_text().count("final_notice") == len(moved) and "moved" in table.inner_text()
        assert_accessible(page)
    assert http(base_url, "GET", "/policies/default")[1]["version"] == current["version"]  # a dry run publishes nothing


def test_every_view_passes_axe_and_the_write_off_asks_first(chromium, base_url, shots):  # noqa: F811
    invoice = open_invoices(base_url)[1]
    with browser_page(chromium) as page:
        visit(page, base_url, "invoices", "table tbody tr")
        assert page.locator("table tbody tr").count() == len(http(base_url, "GET", "/invoices?state=open&limit=200")[1]["invoices"])
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-invoices.png"))
        visit(page, base_url, f"invoices?state=open&q={invoice['number']}", "table tbody tr")
        assert page.locator("table tbody tr").count() == 1
        visit(page, base_url, f"customers/{invoice['customer_id']}", "#c-msg ~ div table")
        assert page.locator("input[name=phone]").input_value().startswith("+44")
        assert_accessible(page)
        page.screenshot(path=str(shots / "console-customer.png"))
        visit(page, base_url, "audit", "pre.code")
        assert "arrears audit export" in page.locator("pre.code").inner_text()
        assert_accessible(page)
        # Writing off cannot be undone: a dialog asks, and cancelling changes nothing
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "details[data-action=write_off]")
        page.click("details[data-action=write_off] summary")
        page.click("form[data-action=write_off] button[type=submit]")
        page.wait_for_selector("dialog[open]")
        assert invoice["number"] in page.locator("dialog[open]").inner_text()
        assert_accessible(page)
        page.keyboard.press("Escape")
        assert page.locator("dialog").count() == 0
    assert http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]["invoice"]["state"] == "open"


def test_a_call_is_marked_done_from_the_queue_with_its_note(chromium, base_url):  # noqa: F811
    call = next(t for t in http(base_url, "GET", "/tasks")[1]["tasks"] if t["kind"] == "call_debtor")
    with browser_page(chromium) as page:
        selector = f"[data-task-id=\"{call['task_id']}\"]"
        visit(page, base_url, "today", selector)
        item = page.locator(selector)
        item.locator("textarea").fill("Dana in AP: paying Friday")
        item.locator("button").click()
        page.wait_for_selector(f"{selector} .ok")
    assert call["task_id"] not in {t["task_id"] for t in http(base_url, "GET", "/tasks")[1]["tasks"]}
    closed = [e for e in http(base_url, "GET", f"/invoices/{call['invoice_id']}")[1]["timeline"] if e["kind"] == "task_done"]
    assert closed and "Dana in AP: paying Friday" in json.dumps(closed[-1]["details"]) and closed[-1]["actor"].endswith(LOCAL_ACTOR)


def test_the_invoice_list_filters_as_the_api_does_and_sorts_in_the_page(chromium, base_url):  # noqa: F811
    listed = http(base_url, "GET", "/invoices?state=open&limit=200")[1]["invoices"]
    currency = max({i["currency"] for i in listed}, key=lambda c: sum(i["currency"] == c for i in listed))
    expected = http(base_url, "GET", f"/invoices?state=open&currency={currency}&aging=31-60&limit=200")[1]["invoices"]
    assert expected and len(expected) < len(listed)
    by_amount = [i["number"] for i in sorted(expected, key=lambda i: -i["amount_remaining"])]
    with browser_page(chromium) as page:
        # When the filters are chosen in the form and shown
        visit(page, base_url, "invoices", "table tbody tr")
        page.fill("input[name=currency]", currency.lower())
        page.select_option("select[name=aging]", "31-60")
        page.select_option("select[name=sort]", "amount")
        page.click("form[role=search] button[type=submit]")
        page.locator("table caption").filter(has_text=re.compile(rf"^{len(expected)} invoices?$")).wait_for(timeout=30_000)
        # Then the page lists what the API answers for them, largest first, and the address keeps the choice
        assert page.locator("table tbody tr td:first-child").all_inner_texts() == by_amount
        assert "currency=" in page.url and "sort=amount" in page.url
        # And a filter nothing matches says so
        assert http(base_url, "GET", "/invoices?state=open&stage=referral")[1]["invoices"] == []
        visit(page, base_url, "invoices?state=open&stage=referral", "text=No invoice matches.")
        assert page.locator("table").count() == 0


def test_a_customers_page_shows_how_it_pays_sets_its_own_credit_limit_and_makes_its_statement(chromium, base_url):  # noqa: F811
    invoice = http(base_url, "GET", "/invoices?state=open&limit=200")[1]["invoices"][0]
    customer_id, currency = invoice["customer_id"], invoice["currency"]
    before = http(base_url, "GET", f"/customers/{customer_id}")[1]
    assert "credit_limits" not in before["finance_settings"]
    with browser_page(chromium) as page:
        visit(page, base_url, f"customers/{customer_id}", "#c-msg ~ div table")
        paid = page.locator("#c-pay ~ table tr", has_text="Invoices paid").locator("td").last.inner_text()
        assert paid == str(before["payment_behaviour"]["invoices_paid"])
        assert before["risk_band_reason"] in page.locator("dl.facts-list").inner_text()
        # When the finance team sets the customer's own limit in the invoice's currency
        page.fill(f"input[name=credit_limit_{currency}]", "2500.50")
        page.click("text=Save changes")
        page.locator("#c-limit ~ table td", has_text="the finance team").wait_for(timeout=30_000)
        after = http(base_url, "GET", f"/customers/{customer_id}")[1]
        assert after["finance_settings"]["credit_limits"] == {currency: 250050}
        assert after["credit_limits"][currency]["limit"] == 250050 and after["credit_limits"][currency]["source"] == "customer"
        assert "2,500.50" in page.locator("#c-limit ~ table").inner_text()
        # Emptying the field gives the policy's limit back
        page.fill(f"input[name=credit_limit_{currency}]", "")
        page.click("text=Save changes")
        page.locator("#c-limit ~ table td", has_text="the finance team").wait_for(state="detached", timeout=30_000)
        assert "credit_limits" not in http(base_url, "GET", f"/customers/{customer_id}")[1]["finance_settings"]
        # The statement of account: made on request, opened from its link
        page.click("text=Make the statement of account")
        link = page.locator("a", has_text="Open the statement")
        link.wait_for(timeout=60_000)
        with urllib.request.urlopen(link.get_attribute("href"), timeout=60) as response:
            assert response.headers["Content-Type"] == "application/pdf" and response.read(5) == b"%PDF-"


def test_a_debtors_reply_is_in_the_queue_with_its_words_and_is_done_from_there(chromium, base_url):  # noqa: F811
    # Given a debtor answering the last email of one of its invoices (as SES stores a received message)
    invoice = open_invoices(base_url)[-1]
    sent = [e for e in http(base_url, "GET", "/_local/emails")[1]["emails"] if invoice["number"] in (e["reference"] or "")]
    raw = (f"From: Accounts payable <ap@debtor.example>\r\nTo: {sent[-1]['from']}\r\nSubject: Re: {sent[-1]['subject']}\r\n"
           f"In-Reply-To: <{sent[-1]['message_id']}@us-east-1.amazonses.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "We never received the goods on PO 4471 <b>please check</b>.\r\n").encode()
    request = urllib.request.Request(base_url + "/_local/inbound-email", data=raw, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
    (task,) = [t for t in http(base_url, "GET", "/tasks")[1]["tasks"] if t["kind"] == "read_reply"]
    with browser_page(chromium) as page:
        # When the credit controller opens the queue
        selector = f"[data-group=replies] [data-task-id=\"{task['task_id']}\"]"
        visit(page, base_url, "today", selector)
        item = page.locator(selector)
        # Then the reply is there in the debtor's words (as text), under its invoice
        assert "We never received the goods on PO 4471 <b>please check</b>." in item.locator("blockquote").inner_text()
        assert "ap@debtor.example" in item.inner_text() and invoice["number"] in item.inner_text()
        assert_accessible(page)
        # And marking it done with a note closes it
        item.locator("textarea").fill("Forwarded to sales: proof of delivery requested")
        item.locator("button").click()
        page.wait_for_selector(f"{selector} .ok")
    assert task["task_id"] not in {t["task_id"] for t in http(base_url, "GET", "/tasks")[1]["tasks"]}


def test_a_note_is_added_with_the_keyboard_alone_and_focus_is_visible_on_the_way(chromium, base_url):  # noqa: F811
    invoice = open_invoices(base_url)[0]
    with browser_page(chromium) as page:
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "details[data-action=note]")
        assert page.evaluate("() => document.activeElement.tagName") == "H1"  # each view moves focus to its heading
        page.focus("details[data-action=note] summary")
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
        page.keyboard.press("Enter")  # opens the disclosure
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "text"
        page.keyboard.type("Spoke to Dana in AP: remittance on Friday")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Add a note"
        page.keyboard.press("Enter")
        page.locator("[data-kind=note]").wait_for(timeout=30_000)
    notes = [e for e in http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]["timeline"] if e["kind"] == "note"]
    assert notes[-1]["details"]["text"] == "Spoke to Dana in AP: remittance on Friday" and notes[-1]["actor"].endswith(LOCAL_ACTOR)


def test_money_and_dates_are_in_the_users_locale_and_an_unknown_invoice_is_said_in_words(chromium, base_url):  # noqa: F811
    invoice = next(i for i in open_invoices(base_url) if i["currency"] == "EUR")
    with browser_page(chromium, locale="de-DE", timezone_id="Europe/Berlin") as page:
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "dl.facts-list")
        facts = page.locator("dl.facts-list").inner_text()
        amount = f"{invoice['amount_remaining'] / 100:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        assert f"{amount}\u00a0€" in facts  # German grouping and decimals, the sign after the amount
        year, month, day = invoice["due_at"][:10].split("-")
        assert f"Due\n{day}.{month}.{year}" in facts  # the German order of a date
        visit(page, base_url, "invoices/in_no_such_invoice", "[role=alert]")
        alert = page.locator("[role=alert]").inner_text()
        status, refused = http(base_url, "GET", "/invoices/in_no_such_invoice")
        assert refused["message"] in alert and f"({refused['error']}, HTTP {status})" in alert and status == 404


def test_a_payment_plan_typed_in_the_currencys_units_reaches_the_api_in_minor_units(chromium, base_url):  # noqa: F811
    invoice = open_invoices(base_url)[0]
    balance = invoice["amount_remaining"]
    first = balance // 2
    lines = f"2026-12-15 {first / 100:.2f}\n2027-01-15 {(balance - first) / 100:.2f}"
    with browser_page(chromium) as page:
        visit(page, base_url, f"invoices/{invoice['invoice_id']}", "details[data-action=payment_plan]")
        page.click("details[data-action=payment_plan] summary")
        # A plan that does not add up is refused in words, changing nothing
        page.fill("form[data-action=payment_plan] textarea[name=instalments]", "2026-12-15 10.00\n2027-01-15 10.00")
        page.click("form[data-action=payment_plan] button[type=submit]")
        alert = page.locator("form[data-action=payment_plan] [role=alert]")
        alert.wait_for(timeout=30_000)
        assert "invalid_plan" in alert.inner_text() and "add up to the balance" in alert.inner_text()
        # The plan that does is agreed
        page.fill("form[data-action=payment_plan] textarea[name=instalments]", lines)
        page.fill("form[data-action=payment_plan] input[name=reason]", "agreed on the phone with AP")
        page.click("form[data-action=payment_plan] button[type=submit]")
        page.locator("dl.facts-list dd", has_text="payment plan").wait_for(timeout=30_000)
    hold = http(base_url, "GET", f"/invoices/{invoice['invoice_id']}")[1]["invoice"]["hold"]
    assert hold["kind"] == "payment_plan" and hold["actor"].endswith(LOCAL_ACTOR)
    assert [(i["due_on"], i["amount"]) for i in hold["instalments"]] == [("2026-12-15", first), ("2027-01-15", balance - first)]


def test_on_a_phones_width_the_page_never_scrolls_sideways_and_every_view_stays_reachable(chromium, base_url):  # noqa: F811
    with browser_page(chromium, viewport=(390, 844)) as page:
        visit(page, base_url, "invoices", "table tbody tr")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # a wide table scrolls in itself
        for link in page.locator("#nav a").all():
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, link.inner_text()
        assert_accessible(page)


def test_in_aws_the_page_signs_in_through_cognito_and_signs_each_request_under_cloudfronts_csp(chromium, base_url):  # noqa: F811
    # Given the built console as CloudFront serves it (its own origin, the template's CSP) with a deployed config.json,
    # Cognito answering as AWS does (a TOTP code asked for, then tokens and the identity pool's temporary
    # credentials), and the finance API's answers relayed from serve with the CORS header API Gateway adds
    region, origin = "eu-west-1", "https://d111111abcdef8.cloudfront.net"
    api = f"https://a1b2c3d4e5.execute-api.{region}.amazonaws.com/prod"
    letters = f"https://arrears-lettersbucket-1x2y3z.s3.{region}.amazonaws.com/"
    policy = yaml_parse((project_root() / "template.yaml").read_text())["Resources"]["ConsoleHeadersPolicy"]
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    csp = csp["ContentSecurityPolicy"]["Fn::Sub"].replace("${AWS::Region}", region).replace("${AWS::URLSuffix}", "amazonaws.com")
    config = {"local": False, "region": region, "apiUrl": api, "userPoolId": f"{region}_Ab12Cd34E",
              "userPoolClientId": "4tq1example5client", "identityPoolId": f"{region}:0f7e0a55-0000-4000-8000-00000000c0de"}
    session_token = "IQoJb3JpZ2luX2VjEExampleSessionToken"
    calls: list[str] = []
    cors = {"access-control-allow-origin": origin, "access-control-allow-headers": "*", "access-control-allow-methods": "GET, POST, PATCH"}

    def cloudfront(route):
        path = route.request.url.removeprefix(origin).split("?")[0].split("#")[0]
        if path == "/config.json":
            return route.fulfill(json=config, headers={"content-security-policy": csp})
        file = dist() / (path.lstrip("/") or "index.html")
        kind = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}.get(file.suffix, "application/octet-stream")
        route.fulfill(status=200, body=file.read_bytes(), headers={"content-type": kind, "content-security-policy": csp})

    def cognito(route):
        if route.request.method == "OPTIONS":
            return route.fulfill(status=200, headers=cors)
        target = route.request.headers["x-amz-target"].rpartition(".")[2]
        calls.append(target)
        if target == "RespondToAuthChallenge":
            assert json.loads(route.request.post_data)["ChallengeResponses"] == {
                "USERNAME": "dana@northwind.example", "SOFTWARE_TOKEN_MFA_CODE": "123456"}
        answers = {
            "InitiateAuth": {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": "session-1"},
            "RespondToAuthChallenge": {"AuthenticationResult": {"IdToken": "id-token-of-dana", "ExpiresIn": 3600}},
            "GetId": {"IdentityId": f"{region}:1d3a0000-aaaa-4bbb-8ccc-000000000001"},
            "GetCredentialsForIdentity": {"Credentials": {"AccessKeyId": "ASIAEXAMPLECONSOLE01", "SecretKey": "c29tZSBzZWNyZXQ",
                                                          "SessionToken": session_token, "Expiration": int(time.time()) + 3600}},
        }
        route.fulfill(status=200, headers={**cors, "content-type": "application/x-amz-json-1.1"}, body=json.dumps(answers[target]))

    def finance_api(route):
        if route.request.method == "OPTIONS":
            return route.fulfill(status=200, headers=cors)
        signed = route.request.headers
        assert signed["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLECONSOLE01/")
        assert f"/{region}/execute-api/aws4_request" in signed["authorization"] and signed["x-amz-security-token"] == session_token
        path = route.request.url.removeprefix(api)
        calls.append(path)
        status, body = http(base_url, route.request.method, path, json.loads(route.request.post_data) if route.request.post_data else None)
        if isinstance(body, dict) and body.get("result_url"):  # a presigned link into the letters bucket, as in AWS
            body["result_url"] = body["result_url"].replace(f"{base_url}/_local/artefacts/", letters) + "?X-Amz-Signature=0f1e"
        route.fulfill(status=status, headers={**cors, "content-type": "application/json"}, body=json.dumps(body))

    def s3(route):
        assert "authorization" not in route.request.headers  # the link carries its own signature
        calls.append("S3 GET")
        status, body = http(base_url, "GET", "/_local/artefacts/" + route.request.url.removeprefix(letters).split("?")[0])
        route.fulfill(status=status, headers={"access-control-allow-origin": origin, "content-type": "application/json"}, body=json.dumps(body))

    with browser_page(chromium) as page:
        page.route(f"{origin}/**", cloudfront)
        page.route(f"https://cognito-idp.{region}.amazonaws.com/", cognito)
        page.route(f"https://cognito-identity.{region}.amazonaws.com/", cognito)
        page.route(f"{api}/**", finance_api)
        # When Dana signs in with her password and her authenticator's code
        page.goto(f"{origin}/#/today")
        page.fill("input[name=username]", "dana@northwind.example")
        page.fill("input[name=password]", "correct horse battery staple")
        page.click("form.signin button")
        page.fill("input[name=code]", "123456")
        assert_accessible(page)
        page.click("form.signin button")
        # Then the queue comes from the finance API, each request signed with her temporary credentials
        page.wait_for_selector("[data-group=calls] li.task", timeout=30_000)
        assert "signed in as dana@northwind.example" in page.locator("#who").inner_text()
        # And the open book's dry run reads its result from S3, which the CSP and the bucket's CORS allow
        page.route(f"{letters}**", s3)
        page.goto(f"{origin}/#/policies")
        page.click("text=Dry run against the open book")
        page.locator(".dry-run p.summary").wait_for(timeout=60_000)
    assert calls[:4] == ["InitiateAuth", "RespondToAuthChallenge", "GetId", "GetCredentialsForIdentity"] and "/tasks" in calls
    assert calls[-1] == "S3 GET" and any(c.startswith("/dry-runs/") for c in calls)


def test_serve_keeps_the_console_to_its_folder_with_its_security_headers(base_url):
    with urllib.request.urlopen(base_url + "/console/") as response:
        assert "script-src 'self'" in response.headers["Content-Security-Policy"] and b"<main" in response.read()
    assert http(base_url, "GET", "/console/config.json") == (200, {"local": True, "apiUrl": ""})
    for escape in ("/console/../template.yaml", "/console/%2e%2e/template.yaml", "/console/assets/../../package.json"):
        assert http(base_url, "GET", escape)[0] == 404
    assert http(base_url, "POST", "/console/index.html", {})[0] == 405


def test_the_finance_api_answers_the_consoles_origin_only(base_url):
    # The API function's CONSOLE_ORIGIN is the template's CloudFront domain (a placeholder one locally)
    with urllib.request.urlopen(base_url + "/tasks") as response:
        assert re.fullmatch(r"https://[a-z0-9-]+\.cloudfront\.net", response.headers["Access-Control-Allow-Origin"])
        assert response.headers["Vary"] == "Origin"
