"""GET /customers/{id}/statement through the finance API's handler, against moto.

Given a small sample book run for six weeks on the local runtime (several invoices per customer, some
paid), the finance team asks for a customer's statement of account: a PDF in the letters bucket, served
as a presigned link as letters are, with the figures per currency in the answer.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from arrears.adapters import aws
from arrears.adapters.dynamo import DynamoStore
from arrears.domain.policy import load_policy_file
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, project_root
from tests.integration.test_finance_api import call

POLICY = load_policy_file(project_root() / "policies" / "default.yaml")
DAYS = 41


@pytest.fixture(scope="module")
def stack():
    with LocalRuntime(start=DEMO_START) as runtime:
        run_book(runtime, sample_portfolio(DEMO_START, 12), POLICY, DAYS)
        yield runtime


def busiest_customer(stack) -> tuple[str, list]:
    store = DynamoStore(stack.table_name)
    customers = {i.invoice.customer.customer_id for i in sample_portfolio(DEMO_START, 12)}
    books = {c: [i for i in store.invoices_of(c) if not i.is_settled] for c in customers}
    customer_id = max(books, key=lambda c: (len(books[c]), c))
    return customer_id, books[customer_id]


def test_the_statement_lists_the_customers_open_invoices_as_a_pdf_link(stack):
    # Given the customer with the most open invoices
    customer_id, open_invoices = busiest_customer(stack)
    assert len(open_invoices) >= 2
    # When the finance team asks for its statement
    status, body = call(stack, "GET", f"/customers/{quote(customer_id)}/statement")
    # Then the answer gives the balance and aging per currency, and a presigned link to the PDF
    assert status == 200, body
    balances = {}
    for invoice in open_invoices:
        balances[invoice.currency] = balances.get(invoice.currency, 0) + invoice.amount_remaining
    assert {c["currency"]: c["balance"] for c in body["currencies"]} == balances
    assert all(sum(c["aging"].values()) == c["balance"] for c in body["currencies"])
    link = body["statement"]
    assert link["download_url"].startswith("https://") and "Signature" in link["download_url"]
    # And the PDF stored in the letters bucket lists every open invoice
    bucket, _, key = link["uri"].removeprefix("s3://").partition("/")
    assert bucket == stack.letters_bucket and key.startswith("statements/")
    stored = aws.client("s3").get_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(stored["Body"].read())).pages)
    assert all(invoice.number in text for invoice in open_invoices)


def test_asking_twice_on_one_day_stores_one_statement(stack):
    customer_id, _ = busiest_customer(stack)
    first = call(stack, "GET", f"/customers/{quote(customer_id)}/statement")[1]["statement"]
    second = call(stack, "GET", f"/customers/{quote(customer_id)}/statement")[1]["statement"]
    assert (first["uri"], first["sha256"]) == (second["uri"], second["sha256"])


def test_an_unknown_customer_is_404(stack):
    status, body = call(stack, "GET", "/customers/cus_nobody/statement")
    assert status == 404 and body["error"] == "unknown_customer"


def test_a_malformed_id_is_a_4xx_with_a_json_error(stack):
    status, body = call(stack, "GET", f"/customers/{'x' * 300}/statement")
    assert status == 422 and body["error"] == "invalid_request"
