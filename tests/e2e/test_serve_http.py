"""`arrears serve` over real HTTP: a person's curl session, and schemathesis fuzzing the finance API.

Given the local runtime serving template.yaml's routes on 127.0.0.1 with a virtual clock and a
small sample book whose webhook deliveries arrive as the clock moves, requests go over a real
socket exactly as curl would send them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from arrears.domain.policy import load_policy_file
from arrears_local.demo import schedule_deliveries
from arrears_local.openapi import FINANCE_DOCUMENT
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime, project_root
from arrears_local.serve import LocalServer
from arrears_local.stripe_events import invoice_event, signed_delivery
from tests.e2e.serving import serving

POLICY = load_policy_file(project_root() / "policies" / "default.yaml")
BOOK = sample_portfolio(DEMO_START, 6)


@pytest.fixture(scope="module")
def base_url():
    with LocalRuntime(start=DEMO_START) as runtime:
        scheduled, _ = schedule_deliveries(runtime, BOOK, POLICY, [])
        with serving(LocalServer(runtime, clock="virtual", scheduled=scheduled)) as url:
            yield url


def http(base_url: str, method: str, path: str, body: bytes | dict | None = None, headers: dict | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_a_finance_session_over_http(base_url):
    # Given the clock at the start: nothing delivered yet
    status, clock = http(base_url, "GET", "/_local/clock")
    assert status == 200 and clock["now"] == "2026-09-01T08:00:00Z" and clock["scheduled_events"] > 0
    assert http(base_url, "GET", "/invoices")[1]["invoices"] == []
    # When six weeks pass
    status, moved = http(base_url, "POST", "/_local/clock/advance", {"days": 42})
    assert status == 200 and moved["now"] == "2026-10-13T08:00:00Z" and moved["events_applied"] >= len(BOOK)
    # Then the book's unpaid invoices are listed, with their reminders in their timelines
    status, listed = http(base_url, "GET", "/invoices?state=open&limit=50")
    assert status == 200 and listed["invoices"]
    first = listed["invoices"][0]
    status, detail = http(base_url, "GET", f"/invoices/{first['invoice_id']}")
    assert status == 200 and any(e["kind"] == "email" for e in detail["timeline"]) and detail["planned"]
    # And a new Stripe invoice, signed as Stripe signs, arrives over HTTP and is collected
    item = sample_portfolio(DEMO_START + timedelta(days=42), 1)[0]
    body, headers = signed_delivery(invoice_event(item.invoice, "invoice.finalized", DEMO_START + timedelta(days=42)),
                                    LOCAL_STRIPE_SECRET, DEMO_START + timedelta(days=42))
    status, reply = http(base_url, "POST", "/webhooks/stripe", body, headers)
    assert status == 200 and reply["received"] is True
    assert http(base_url, "GET", f"/invoices/{item.invoice.invoice_id}")[0] == 200
    # And finance can act on it: a pause, refused twice, then listed with its hold
    until = "2026-11-01T00:00:00Z"
    assert http(base_url, "POST", f"/invoices/{first['invoice_id']}/pause", {"until": until, "reason": "AP migration"})[0] == 200
    status, again = http(base_url, "POST", f"/invoices/{first['invoice_id']}/pause", {"until": until})
    assert (status, again["error"]) == (409, "already_on_hold")
    hold = http(base_url, "GET", f"/invoices/{first['invoice_id']}")[1]["invoice"]["hold"]
    assert hold["kind"] == "pause" and hold["actor"].endswith(":user/local-finance")
    # And the reports and the OpenAPI document answer
    assert http(base_url, "GET", "/reports/aging")[0] == 200
    status, document = http(base_url, "GET", "/openapi.json")
    assert status == 200 and document["info"]["title"] == "Arrears finance API"
    # And the clock refuses to go back; unknown routes are 404
    status, refused = http(base_url, "POST", "/_local/clock/advance", {"to": "2026-01-01T00:00:00Z"})
    assert (status, refused["error"]) == (422, "invalid_request")
    assert http(base_url, "GET", "/nowhere")[0] == 404


FUZZ_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_fuzzing_the_finance_api_finds_no_server_error_and_no_schema_violation(base_url):
    # schemathesis' pytest plugin does not run under this pytest; its strategies and checks do, per operation.
    schema = schemathesis.openapi.from_path(str(FINANCE_DOCUMENT))
    schema.config.update(base_url=base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 29  # every route of the template but /openapi.json itself and the portal's pages
    for operation in operations:
        @hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def call_and_check(case):
            response = case.call()
            case.validate_response(response, checks=FUZZ_CHECKS)

        call_and_check()
