"""Collections that learn from payment history (issue #20) on the local runtime, IAM enforced, default policy v4.

Brightwater pays three invoices 50 days late: the figures count each as it settles (the webhook's own write),
and its fourth invoice starts with the band the rules give (poor: 50 days on average is over 45), the change
logged with its reason, in the watch segment (courtesy reminder 10 days before due, not 7), and, over the poor
band's default credit limit, with a review_credit_limit task and an EventBridge event on the default bus.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from arrears.adapters.dynamo import DynamoStore
from arrears.domain.policy import load_policy_file
from arrears_local.demo import run_book
from arrears_local.portfolio import CUSTOMERS, DEMO_START, PortfolioInvoice
from arrears_local.runtime import LocalRuntime
from arrears_local.stripe_events import SampleInvoice
from tests.e2e.test_lifecycle import ROOT

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
CUSTOMER = CUSTOMERS[0]  # Brightwater Logistics Ltd, GBP
DAYS_LATE = 50


def _invoice(n: int, created_day: int, amount: int) -> SampleInvoice:
    created = DEMO_START + timedelta(days=created_day, hours=1 + n)
    return SampleInvoice(invoice_id=f"in_1QHistory{n:02d}", number=f"NW-2026-{2100 + n:04d}", customer=CUSTOMER,
                         currency="GBP", lines=(("Analytics Platform — Business plan, annual seats", amount),),
                         created=created, due=created + timedelta(days=30))


PAID_LATE = [PortfolioInvoice(_invoice(n, 0, 180_000 + 10_000 * n), "pays 50 days late", DAYS_LATE, "invoice.paid",
                              False, redelivered=n == 1) for n in (1, 2, 3)]
# After the third is paid (day 30 + 50): £12,000, over the poor band's £10,000 default limit on its own.
NEXT = PortfolioInvoice(_invoice(4, 84, 1_200_000), "never pays", None, None, False, redelivered=False)
BOOK = [*PAID_LATE, NEXT]


@pytest.fixture(scope="module")
def history():
    with LocalRuntime(start=DEMO_START) as runtime:
        # A SaaS listening on the default bus for the credit-limit event (the deployer's setup, not a function's)
        sqs, events = runtime.client("sqs"), runtime.client("events")
        queue = sqs.create_queue(QueueName="saas-credit-holds")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="credit-limit", EventPattern=json.dumps({"source": ["arrears"]}))
        events.put_targets(Rule="credit-limit", Targets=[{"Id": "saas", "Arn": queue_arn}])
        # The SaaS reads its queue a day after the invoice (SQS keeps a message 4 days on the virtual clock too)
        messages: list[dict] = []
        read_at = NEXT.invoice.created + timedelta(days=1)
        original = runtime.run_until

        def run_until(end, external=None, on_progress=None):
            reads = [(read_at, lambda: messages.extend(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
                                                       .get("Messages", [])))]
            original(end, external=sorted([*(external or []), *reads], key=lambda pair: pair[0]), on_progress=on_progress)

        runtime.run_until = run_until
        run = run_book(runtime, BOOK, POLICY, 84 + 30 - 5)
        store = DynamoStore(runtime.table_name)
        customer = runtime.request("GET", f"/customers/{CUSTOMER.customer_id}")
        documents = {language: runtime.request("GET", f"/policies/default/document?language={language}&format=html")
                     for language in ("de", "fr")}
        documents["bad"] = runtime.request("GET", "/policies/default/document?language=it")
        pages = {language: requests.get(json.loads(reply.body)["document"]["download_url"], timeout=10).text
                 for language, reply in documents.items() if reply.status_code == 200}
        yield run, store, [json.loads(m["Body"]) for m in messages], json.loads(customer.body), (documents, pages)


def test_each_late_payment_counts_once_in_the_customers_figures(history):
    _, store, _, customer, _ = history
    figures = customer["payment_behaviour"]
    # Three paid 50 days beyond terms (one payment delivered twice by Stripe: counted once)
    assert figures["invoices_paid"] == 3 and figures["paid_late"] == 3
    assert figures["average_days_beyond_terms"] == f"{(3 * DAYS_LATE) / 3:.1f}" == "50.0"
    assert figures["share_paid_late_percent"] == "100.0" and figures["disputed"] == 0
    assert store.payment_behaviour(CUSTOMER.customer_id)["days_late_total"] == 3 * DAYS_LATE


def test_the_worse_band_is_logged_with_its_reason_and_the_next_invoice_gets_the_watch_ladder(history):
    run, _, _, customer, _ = history
    log = run.logs[NEXT.invoice.invoice_id]
    changed = [e for e in log if e.kind == "risk_band_changed"]
    assert len(changed) == 1 and changed[0].details["from"] is None and changed[0].details["to"] == "poor"
    assert "average 50.0 days beyond terms over 3 paid invoices (poor: up to 90 days)" in changed[0].details["reason"]
    assert customer["risk_band"] == "poor"
    started = next(e for e in log if e.kind == "collection_started")
    assert started.details["segment"] == "watch" == run.invoices[NEXT.invoice.invoice_id].segment
    courtesy = next(e for e in log if e.kind == "email" and e.step_id == "courtesy_reminder")
    due_day = NEXT.invoice.due.date()
    assert (due_day - courtesy.at.date()).days == 10  # watch: 10 days before due (standard: 7)
    # The paid invoices started before any band: the standard ladder
    assert all(run.invoices[item.invoice.invoice_id].segment == "standard" for item in PAID_LATE)


def test_crossing_the_credit_limit_opens_the_review_task_and_emits_the_event(history):
    run, store, events, customer, _ = history
    tasks = [t for t in store.open_tasks_of(NEXT.invoice.invoice_id) if t["kind"] == "review_credit_limit"]
    crossed = [t for t in tasks if "exposure" in t["details"]]
    assert len(crossed) == 1 and crossed[0]["details"]["credit_limit"] == 1_000_000
    assert crossed[0]["details"]["exposure"] == 1_200_000
    # And the band that worsened (none -> poor) asks for a review a week later
    assert any("risk band worsened from none to poor" in t["details"]["reason"] for t in tasks)
    assert len(events) == 1 and events[0]["detail-type"] == "Credit limit exceeded" and events[0]["source"] == "arrears"
    assert events[0]["detail"]["customer_id"] == CUSTOMER.customer_id and events[0]["detail"]["currency"] == "GBP"
    assert events[0]["detail"]["exposure"] == 1_200_000 and events[0]["detail"]["credit_limit"] == 1_000_000
    assert customer["credit_limits"]["GBP"] == {"limit": 1_000_000, "exposure": 1_200_000, "over_limit": True, "source": "band"}
    assert [e.kind for e in run.logs[NEXT.invoice.invoice_id]].count("credit_limit_exceeded") == 1


def test_the_policy_document_route_links_the_version_it_was_made_from_in_the_language_asked(history):
    *_, (documents, pages) = history
    assert documents["bad"].status_code == 422 and json.loads(documents["bad"].body)["error"] == "invalid_request"
    answer = json.loads(documents["de"].body)
    assert answer["version"] == POLICY.version and answer["language"] == "de" and answer["format"] == "html"
    assert answer["document"]["uri"].split("/")[3] == "policy-documents"
    assert "Unsere Richtlinie zum Forderungsmanagement" in pages["de"] and f"Version {POLICY.version}" in pages["de"]
    assert "Notre politique de recouvrement" in pages["fr"] and "10,15" in pages["fr"]
