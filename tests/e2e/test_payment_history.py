"""Collections that learn from payment history (issue #20) on the local runtime, IAM enforced, default policy v4.

Brightwater pays three invoices 50 days late: the figures count each as it settles (the webhook's own write),
the third settlement gives the band the rules give (poor: 50 days on average is over 45), logged with its reason
on that invoice with a review task, and its fourth invoice starts in the watch segment (courtesy reminder 10 days before due, not 7), and, over the poor
band's default credit limit, with a review_credit_limit task and an EventBridge event on the default bus.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
import requests

from arrears.adapters.dynamo import DynamoStore
from arrears.domain.policy import load_policy_file
from arrears_local.demo import run_book
from arrears_local.portfolio import CUSTOMERS, DEMO_START, PortfolioInvoice
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.stripe_events import SampleInvoice, invoice_event, signed_delivery
from tests.e2e.test_lifecycle import ROOT

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
CUSTOMER = CUSTOMERS[0]  # Brightwater Logistics Ltd, GBP
DAYS_LATE = 50


def _invoice(n: int, created_day: int, amount: int, customer=CUSTOMER, currency="GBP", terms=30) -> SampleInvoice:
    created = DEMO_START + timedelta(days=created_day, hours=1 + n)
    return SampleInvoice(invoice_id=f"in_1QHistory{n:02d}", number=f"NW-2026-{2100 + n:04d}", customer=customer,
                         currency=currency, lines=(("Analytics Platform — Business plan, annual seats", amount),),
                         created=created, due=created + timedelta(days=terms))


PAID_LATE = [PortfolioInvoice(_invoice(n, 0, 180_000 + 10_000 * n), "pays 50 days late", DAYS_LATE, "invoice.paid",
                              False, redelivered=n == 1) for n in (1, 2, 3)]
# After the third is paid (day 30 + 50): £12,000, over the poor band's £10,000 default limit on its own.
NEXT = PortfolioInvoice(_invoice(4, 84, 1_200_000), "never pays", None, None, False, redelivered=False)
# Early payment (the standard segment's 2% within 10 days of issue), on 14-day terms: the courtesy reminder (7 days
# before due) comes inside the window. Atelier Lumière pays 98% five days after issue; Müller & Söhne does not.
EARLY = PortfolioInvoice(_invoice(5, 2, 250_000, CUSTOMERS[2], "EUR", 14), "pays early, less the discount", None, None,
                         False, redelivered=False)
OFFERED = PortfolioInvoice(_invoice(6, 2, 100_000, CUSTOMERS[1], "EUR", 14), "never pays", None, None, False,
                           redelivered=False)
EARLY_PAID_AT = EARLY.invoice.created + timedelta(days=5)
STATEMENT_AT = OFFERED.invoice.created + timedelta(days=3)  # inside its 10-day window
BOOK = [*PAID_LATE, NEXT, EARLY, OFFERED]


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
                                                       .get("Messages", []))),
                     (EARLY_PAID_AT, pay_early), (STATEMENT_AT, ask_statement)]
            original(end, external=sorted([*(external or []), *reads], key=lambda pair: pair[0]), on_progress=on_progress)

        def pay_early() -> None:  # EUR 2,450.00 of 2,500.00: the amount less 2%
            event = invoice_event(EARLY.invoice, "invoice.updated", EARLY_PAID_AT, status="open", amount_paid=245_000)
            body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, runtime.now())
            assert runtime.request("POST", "/webhooks/stripe", body, headers).status_code == 200

        statements: list[bytes] = []

        def ask_statement() -> None:  # Müller & Söhne's statement of account, inside its invoice's window
            reply = runtime.request("GET", f"/customers/{OFFERED.invoice.customer.customer_id}/statement")
            url = json.loads(reply.body)["statement"]["download_url"]
            statements.append(requests.get(url, timeout=10).content)

        runtime.run_until = run_until
        run = run_book(runtime, BOOK, POLICY, 84 + 30 - 5)
        store = DynamoStore(runtime.table_name)
        customer = runtime.request("GET", f"/customers/{CUSTOMER.customer_id}")
        documents = {language: runtime.request("GET", f"/policies/default/document?language={language}&format=html")
                     for language in ("de", "fr")}
        documents["bad"] = runtime.request("GET", "/policies/default/document?language=it")
        pages = {language: requests.get(json.loads(reply.body)["document"]["download_url"], timeout=10).text
                 for language, reply in documents.items() if reply.status_code == 200}
        emails = [message.raw_data for message in runtime.sent_emails()]
        listing = json.loads(runtime.request("GET", "/invoices?state=open&limit=200").body)["invoices"]
        yield (run, store, [json.loads(m["Body"]) for m in messages], json.loads(customer.body),
               (documents, pages, emails, listing, statements))


def test_each_late_payment_counts_once_in_the_customers_figures(history):
    _, store, _, customer, _ = history
    figures = customer["payment_behaviour"]
    # Three paid 50 days beyond terms (one payment delivered twice by Stripe: counted once)
    assert figures["invoices_paid"] == 3 and figures["paid_late"] == 3
    assert figures["average_days_beyond_terms"] == f"{(3 * DAYS_LATE) / 3:.1f}" == "50.0"
    assert figures["share_paid_late_percent"] == "100.0" and figures["disputed"] == 0
    assert store.payment_behaviour(CUSTOMER.customer_id)["days_late_total"] == 3 * DAYS_LATE


def test_the_worse_band_is_logged_with_its_reason_and_the_next_invoice_gets_the_watch_ladder(history):
    run, store, _, customer, _ = history
    # The settlement that made the band (the third paid invoice: the minimum history) logs the change, by the
    # webhook's own hand; the next invoice's start finds it recorded and logs nothing more
    third = PAID_LATE[2].invoice.invoice_id
    changed = [e for e in run.logs[third] if e.kind == "risk_band_changed"]
    assert len(changed) == 1 and changed[0].details["from"] is None and changed[0].details["to"] == "poor"
    assert changed[0].actor == "risk rules" and changed[0].at.date() == PAID_LATE[2].invoice.due.date() + timedelta(DAYS_LATE)
    assert "average 50.0 days beyond terms over 3 paid invoices (poor: up to 90 days)" in changed[0].details["reason"]
    assert not [e for item in PAID_LATE[:2] for e in run.logs[item.invoice.invoice_id] if e.kind == "risk_band_changed"]
    log = run.logs[NEXT.invoice.invoice_id]
    assert "risk_band_changed" not in [e.kind for e in log]
    assert customer["risk_band"] == "poor"
    # And a person is asked to review the customer a week after that settlement; being paid did not close it
    review = [t for t in store.open_tasks_of(third) if t["kind"] == "review_risk_band"]
    assert len(review) == 1 and "risk band worsened from none to poor" in review[0]["details"]["reason"]
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
    assert len(tasks) == 1  # the band's own review is on the invoice whose settlement worsened it
    assert len(events) == 1 and events[0]["detail-type"] == "Credit limit exceeded" and events[0]["source"] == "arrears"
    assert events[0]["detail"]["customer_id"] == CUSTOMER.customer_id and events[0]["detail"]["currency"] == "GBP"
    assert events[0]["detail"]["exposure"] == 1_200_000 and events[0]["detail"]["credit_limit"] == 1_000_000
    assert customer["credit_limits"]["GBP"] == {"limit": 1_000_000, "exposure": 1_200_000, "over_limit": True, "source": "band"}
    assert [e.kind for e in run.logs[NEXT.invoice.invoice_id]].count("credit_limit_exceeded") == 1


def test_the_policy_document_route_links_the_version_it_was_made_from_in_the_language_asked(history):
    *_, (documents, pages, *_) = history
    assert documents["bad"].status_code == 422 and json.loads(documents["bad"].body)["error"] == "invalid_request"
    answer = json.loads(documents["de"].body)
    assert answer["version"] == POLICY.version and answer["language"] == "de" and answer["format"] == "html"
    assert answer["document"]["uri"].split("/")[3] == "policy-documents"
    assert "Unsere Richtlinie zum Forderungsmanagement" in pages["de"] and f"Version {POLICY.version}" in pages["de"]
    assert "Notre politique de recouvrement" in pages["fr"] and "10,15" in pages["fr"]


def test_an_early_payment_inside_the_window_stops_the_ladder_and_opens_the_credit_note_task(history):
    run, store, *_ = history
    log = run.logs[EARLY.invoice.invoice_id]
    # Paid 2,450.00 of 2,500.00 five days after issue (inside 10 days): collection closed at its next wake-up
    closed = [e for e in log if e.kind == "collection_closed"]
    assert len(closed) == 1 and closed[0].details["reason"] == "paid_early_with_discount"
    assert closed[0].details["discount"] == 250_000 * 2 // 100 == 5_000 and closed[0].details["paid"] == 245_000
    # And no message ever went to the debtor: not the courtesy reminder, nor any after it
    assert not [e for e in log if e.kind in ("email", "letter")]
    tasks = [t for t in store.open_tasks_of(EARLY.invoice.invoice_id) if t["kind"] == "issue_credit_note"]
    assert len(tasks) == 1 and tasks[0]["details"]["discount"] == 5_000 and tasks[0]["details"]["currency"] == "EUR"


def test_the_courtesy_reminder_states_the_discount_with_its_exact_amount_and_date(history):
    *_, (_, _, emails, *_) = history
    import email
    from email import policy as email_policy

    parsed = [email.message_from_string(raw, policy=email_policy.default) for raw in emails]
    courtesy = [m for m in parsed if CUSTOMERS[1].email in str(m["To"])
                and str(m["X-Arrears-Reference"]).endswith(f"{OFFERED.invoice.number}/courtesy_reminder")]
    assert len(courtesy) == 1
    text = courtesy[0].get_body(preferencelist=("plain",)).get_content()
    html = courtesy[0].get_body(preferencelist=("html",)).get_content()
    # 2% of EUR 1,000.00 is EUR 20.00 off: pay EUR 980.00 by the issue day + 10, in German
    last_day = (OFFERED.invoice.created + timedelta(days=10)).date()
    assert "980,00" in text and "20,00" in text and "Skonto" in text
    assert f"{last_day.day}." in text and str(last_day.year) in text
    assert "<strong>980,00" in html
    # The invoice paid early got no courtesy reminder at all (its ladder stopped first)
    assert not [m for m in parsed if CUSTOMERS[2].email in str(m["To"])]


def test_the_invoice_list_carries_each_customers_band_and_figures(history):
    *_, customer, (_, _, _, listing, _) = history
    items = {item["invoice_id"]: item for item in listing}
    # Brightwater's open invoice shows the band its three late payments gave, and the same figures as its customer
    brightwater = items[NEXT.invoice.invoice_id]
    assert brightwater["customer_risk_band"] == "poor" == customer["risk_band"]
    assert brightwater["customer_payment_behaviour"] == customer["payment_behaviour"]
    assert brightwater["customer_payment_behaviour"]["average_days_beyond_terms"] == "50.0"
    # Müller & Söhne has paid nothing yet: no band, no figures
    assert items[OFFERED.invoice.invoice_id]["customer_risk_band"] is None
    assert items[OFFERED.invoice.invoice_id]["customer_payment_behaviour"] is None


def test_the_statement_asked_for_inside_the_window_states_the_discount(history, tmp_path):
    *_, (_, _, _, _, statements) = history
    assert len(statements) == 1
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(statements[0])
    printed = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True)
                       .stdout.replace("\u00a0", " ").replace("\u202f", " ").split())
    # 2% of EUR 1,000.00: pay EUR 980.00 by the issue day + 10 and keep EUR 20.00, in Müller & Söhne's German
    last_day = (OFFERED.invoice.created + timedelta(days=10)).date()
    assert OFFERED.invoice.number in printed and "Skonto" in printed
    assert f"Zahlen Sie 980,00 € bis zum {last_day.day}." in printed and "(20,00 €)" in printed
