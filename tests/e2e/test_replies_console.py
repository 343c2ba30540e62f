"""A hostile reply in the finance team's console (issue #17): shown as text, never live, in real headless Chromium.

Given `arrears serve` with a never-paying debtor who answers the first overdue reminder with a message built to run
script wherever it is shown (markup in the sender's name, the subject and the text, an HTML alternative with an
onload, an HTML attachment with a script: tests/fixtures/mail/hostile_html.eml), the console's invoice page and its
task queue are opened as a credit controller would open them.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import pytest

from arrears.domain.policy import load_policy_file
from arrears_local.console_files import dist
from arrears_local.demo import schedule_deliveries
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, project_root
from arrears_local.serve import LocalServer
from tests.e2e.browser import browser_page, chromium  # noqa: F401  (fixture)
from tests.e2e.serving import serving
from tests.e2e.test_replies import _reply

POLICY = load_policy_file(project_root() / "policies" / "default.yaml")
ITEM = next(item for item in sample_portfolio(DEMO_START, 20) if item.behaviour == "never pays")
INVOICE = ITEM.invoice


@pytest.fixture(scope="module")
def served():
    if not (dist() / "index.html").is_file():
        pytest.fail("the console is not built: `make setup` builds console/dist")
    with LocalRuntime(start=DEMO_START) as runtime:
        scheduled, _ = schedule_deliveries(runtime, [ITEM], POLICY, [])
        server = LocalServer(runtime, clock="virtual", scheduled=scheduled)
        with serving(server) as url:
            server.advance_to(INVOICE.due + timedelta(days=9))  # the first overdue reminder (+7) has gone
            raw = _reply(runtime, INVOICE, "hostile_html.eml")
            request = urllib.request.Request(url + "/_local/inbound-email", data=raw, method="POST")
            with urllib.request.urlopen(request, timeout=60) as answer:
                assert answer.status == 202
            yield url


def _json(url: str):
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.loads(answer.read())


def test_a_hostile_reply_is_on_the_timeline_as_text_and_runs_nothing(chromium, served):  # noqa: F811
    reply = next(e for e in _json(f"{served}/invoices/{INVOICE.invoice_id}")["timeline"] if e["kind"] == "reply_received")
    assert "<img src=x onerror" in reply["details"]["text"]  # stored as the debtor wrote it: text, to be escaped
    with browser_page(chromium) as page:
        page.goto(f"{served}/console/#/invoices/{INVOICE.invoice_id}")
        row = page.locator("tr", has=page.locator("[data-kind=reply_received]"))
        row.wait_for(timeout=30_000)
        shown = row.inner_text()
        # Then the markup is shown as the characters it is made of
        assert "<img src=x onerror" in shown and "<script>window.__pwned='text'</script>" in shown
        assert "<svg onload=window.__pwned='subject'>" in shown and "Accounts <script>" in shown
        # And none of it became an element, nor ran
        assert row.locator("img, script, svg, a[href^=javascript]").count() == 0
        assert page.evaluate("window.__pwned") is None
        # The task queue lists the reply's task, with nothing run either
        page.goto(f"{served}/console/#/today")
        page.locator("li.task[data-kind=read_reply]").wait_for(timeout=30_000)
        assert page.evaluate("window.__pwned") is None


def test_the_replys_html_attachment_is_served_to_download_not_to_render(served):
    reply = next(e for e in _json(f"{served}/invoices/{INVOICE.invoice_id}")["timeline"] if e["kind"] == "reply_received")
    links = {a["kind"]: a["download_url"] for a in reply["artefacts"]}
    # When the console's "open" links are followed; Then the raw message and the HTML page come as inert types
    with urllib.request.urlopen(links["reply_attachment"], timeout=60) as answer:
        assert answer.headers["Content-Type"] == "application/octet-stream" and b"<script>" in answer.read()
    with urllib.request.urlopen(links["reply"], timeout=60) as answer:
        assert answer.headers["Content-Type"] == "message/rfc822"
