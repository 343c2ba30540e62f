"""`arrears serve` under hostile input: every route, every kind of malformed request, no 5xx, nothing changed.

Given the local runtime serving template.yaml's routes on 127.0.0.1, with a small book run for three weeks
(open invoices, a customer, a published policy, a list cursor to tamper with), malformed requests of every
kind go over a real socket to every route: bodies that are not UTF-8, start with a BOM, nest 900 deep or are
too large; signature headers with non-ASCII digits or signatures; signed events whose metadata nests 900
deep; dates in year 9999; policy sources nested thousands deep; a changed cursor. Each answer must be a
4xx with a JSON `error` and `message` (no trace, no file path), and the tables and buckets must be exactly
as they were.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from arrears.ingestion.http_input import API_MAX_BODY_BYTES, WEBHOOK_MAX_BODY_BYTES
from arrears.ingestion.providers import generic, paddle, stripe
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LOCAL_GENERIC_SECRET, LOCAL_PADDLE_SECRET, LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.serve import LocalServer
from arrears_local.stripe_events import invoice_event
from arrears.domain.policy import load_policy_file
from arrears_local.runtime import project_root
from tests.e2e.serving import serving

POLICY = load_policy_file(project_root() / "policies" / "default.yaml")
BOOK = sample_portfolio(DEMO_START, 4)
DAYS = 21


def nested(depth: int) -> dict:
    document: dict = {"po": "PO-2211"}
    for _ in range(depth - 1):
        document = {"a": document}
    return document


DEEP = json.dumps(nested(900)).encode()
NOT_UTF8 = '{"reason": "Société Générale est en redressement"}'.encode("latin-1")
WITH_BOM = b"\xef\xbb\xbf" + json.dumps({"reason": "AP migration"}).encode()
TOO_LARGE = json.dumps({"reason": "x" * API_MAX_BODY_BYTES}).encode()
WEBHOOK_TOO_LARGE = json.dumps({"pad": "x" * WEBHOOK_MAX_BODY_BYTES}).encode()
# Latin-1 survives the HTTP header encoding, so these reach the handler as sent.
SUPERSCRIPT_DIGITS = "¹²³¹²³¹²³¹"  # str.isdigit() says yes, int() says no


@pytest.fixture(scope="module")
def served():
    with LocalRuntime(start=DEMO_START) as runtime:
        run_book(runtime, BOOK, POLICY, DAYS)
        with serving(LocalServer(runtime, clock="virtual")) as base_url:
            yield runtime, base_url


def send(base_url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(base_url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def snapshot(runtime: LocalRuntime) -> dict:
    """Every item of every table and every object version of every bucket (the test's view, not the app's)."""
    dynamodb, s3 = runtime.client("dynamodb"), runtime.client("s3")
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        items = dynamodb.get_paginator("scan").paginate(TableName=name).build_full_result()["Items"]
        tables[name] = sorted(json.dumps(item, sort_keys=True) for item in items)
    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        versions = s3.list_object_versions(Bucket=bucket["Name"]).get("Versions", [])
        buckets[bucket["Name"]] = sorted((v["Key"], v["VersionId"], v["ETag"]) for v in versions)
    return {"tables": tables, "buckets": buckets}


def malformed_requests(runtime: LocalRuntime, base_url: str) -> list[tuple[str, str, bytes | None, dict]]:
    """(method, path, body, headers) of every hostile request, for every route of the template."""
    listed = json.loads(send(base_url, "GET", "/invoices?limit=1")[1])
    invoice = listed["invoices"][0]
    payload, _, mac = listed["next_cursor"].partition(".")
    changed_cursor = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    ids = {"invoice_id": invoice["invoice_id"], "customer_id": invoice["customer_id"], "policy_id": "default",
           "task_id": "tsk_01JB2K7X9Q", "job_id": "dry_01JB2K7X9Q"}
    requests: list[tuple[str, str, bytes | None, dict]] = []
    for route in runtime.routes:
        # The webhooks are below; the debtors' portal answers HTML pages, and its hostile input (bad links, CSRF,
        # every field) is tests/e2e/test_portal_security.py's.
        if route.resource == "/webhooks/{provider}" or route.resource.startswith("/portal"):
            continue
        path = route.resource.format(**ids)
        requests += [(route.method, path, body, {}) for body in (NOT_UTF8, WITH_BOM, DEEP, TOO_LARGE)]
        queries = {"/invoices": [f"?cursor={changed_cursor}", "?next_action_before=9999-12-31T00:00:00Z"],
                   "/reports/aging": ["?as_of=9999-12-31T23:59:59Z", "?as_of=0001-01-01T00:00:00Z"],
                   "/reports/collections": ["?from=0001-01-01&to=2026-09-01", "?from=2026-09-01&to=9999-12-31"],
                   "/reports/stages": ["?from=0001-01-01&to=2026-09-01"]}.get(route.resource, []) if route.method == "GET" else []
        requests += [(route.method, path + query, None, {}) for query in queries]
    invoice_path = f"/invoices/{invoice['invoice_id']}"
    deep_policy = json.dumps({"source": "policy_id: default\nsteps: " + "[" * 5000}).encode()
    requests += [
        ("POST", f"{invoice_path}/promise", json.dumps({"promised_on": "9999-12-31"}).encode(), {}),
        ("POST", f"{invoice_path}/pause", json.dumps({"until": "9999-12-31T23:59:59Z"}).encode(), {}),
        ("POST", f"{invoice_path}/payment-plan", json.dumps({"instalments": [
            {"due_on": "2026-10-30", "amount": 1}, {"due_on": "9999-12-31", "amount": invoice["amount_remaining"] - 1}]}).encode(), {}),
        ("POST", "/policies/default/versions", deep_policy, {}),
        ("POST", "/policies/default/dry-run", deep_policy, {}),
        ("GET", f"/invoices?limit=1&cursor={changed_cursor}", None, {}),
    ]
    # serve's own routes (what AWS does outside the API): the same bodies, and paths that name nothing.
    for method, path in (("POST", "/_local/clock/advance"), ("POST", "/_local/ses-events"),
                         ("POST", "/_local/import?name=invoices.csv"), ("POST", "/_local/import?name=book.json")):
        requests += [(method, path, body, {}) for body in (NOT_UTF8, WITH_BOM, DEEP, TOO_LARGE)]
    requests += [
        ("POST", "/_local/clock/advance", json.dumps({"days": 10**9}).encode(), {}),
        ("POST", "/_local/clock/advance", json.dumps({"to": "9999-12-31T00:00:00Z"}).encode(), {}),
        ("POST", "/_local/ses-events", json.dumps({"event": "Bounce", "message_id": "\u0000../../etc"}).encode(), {}),
        ("GET", "/_local/artefacts/arrears-local-lettersbucket/..%2F..%2Fetc%2Fpasswd", None, {}),
        ("GET", "/_local/artefacts/no-such-bucket/letters/x.pdf", None, {}),
        ("POST", "/_local/import?name=book.json", b"[" * 200_000, {}),
    ]
    # The webhooks: bodies refused before authentication, malformed signatures, and signed hostile events.
    now = int(runtime.now().timestamp())
    event = invoice_event(BOOK[0].invoice, "invoice.finalized", runtime.now())
    plain_event = json.dumps(event).encode()
    event["data"]["object"]["metadata"] = nested(900)
    deep_event = json.dumps(event).encode()
    signers = {"stripe": ("Stripe-Signature", lambda b: stripe.sign(b, LOCAL_STRIPE_SECRET, now)),
               "paddle": ("Paddle-Signature", lambda b: paddle.sign(b, LOCAL_PADDLE_SECRET, now)),
               "generic": ("Arrears-Signature", lambda b: generic.sign(b, LOCAL_GENERIC_SECRET, now))}
    for provider, (header, sign) in signers.items():
        path = f"/webhooks/{provider}"
        scheme = {"stripe": stripe, "paddle": paddle, "generic": generic}[provider].SIGNING
        good = sign(plain_event).rpartition("=")[2]
        requests += [("POST", path, body, {header: sign(body)}) for body in (NOT_UTF8, WITH_BOM, DEEP, deep_event, WEBHOOK_TOO_LARGE)]
        requests += [("POST", path, plain_event, {header: value}) for value in (
            f"{scheme.timestamp_name}={SUPERSCRIPT_DIGITS}{scheme.separator}{scheme.signature_name}={good}",
            f"{scheme.timestamp_name}={now}{scheme.separator}{scheme.signature_name}={'é' * 64}")]
    requests += [("POST", "/webhooks/chargebee", body, {"Authorization": auth}) for body, auth in (
        (NOT_UTF8, "Basic YXJyZWFycy1sb2NhbDpjaGFyZ2ViZWUtZGVtby1wYXNzd29yZA=="), (DEEP, "Basic ÿÿÿÿ"),
        (WITH_BOM, "Basic YXJyZWFycy1sb2NhbDpjaGFyZ2ViZWUtZGVtby1wYXNzd29yZA=="))]
    return requests


def test_malformed_requests_to_every_route_are_4xx_with_a_json_error_and_change_nothing(served):
    runtime, base_url = served
    requests = malformed_requests(runtime, base_url)
    routes = {(m, p.split("?")[0]) for m, p, _, _ in requests}
    # every finance route and the four webhook providers (the portal's pages are its security test's)
    finance_routes = [route for route in runtime.routes if not route.resource.startswith("/portal")]
    assert len(routes) >= len(finance_routes) + 3
    before = snapshot(runtime)
    answers = []
    for method, path, body, headers in requests:
        status, raw = send(base_url, method, path, body, headers)
        answers.append((method, path[:60], status, raw[:300]))
    failures = []
    for method, path, status, raw in answers:
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        if not 400 <= status < 500:
            failures.append((method, path, status, raw))
        elif not (isinstance(reply, dict) and isinstance(reply.get("error"), str) and reply.get("message")):
            failures.append((method, path, status, raw))
        elif b"Traceback" in raw or b'File "' in raw or b"/work/" in raw or b".py" in raw:
            failures.append((method, path, status, raw))
    assert failures == [], "\n".join(map(str, failures))
    assert snapshot(runtime) == before
    # And the refusals say what was wrong, by kind
    errors = {json.loads(raw)["error"] for _, _, _, raw in answers}
    assert {"invalid_encoding", "too_deep", "body_too_large", "malformed_signature", "invalid_cursor",
            "invalid_request"} <= errors


def test_the_same_routes_still_answer_well_formed_requests(served):
    # Given the hostile battery ran, a well-formed request still works (nothing was left half-done)
    runtime, base_url = served
    status, raw = send(base_url, "GET", "/invoices?limit=2")
    listed = json.loads(raw)
    assert status == 200 and listed["invoices"]
    status, raw = send(base_url, "GET", f"/invoices?limit=2&cursor={listed['next_cursor']}")
    assert status == 200
    at = runtime.now() + timedelta(days=30)
    status, raw = send(base_url, "POST", f"/invoices/{listed['invoices'][0]['invoice_id']}/promise",
                       json.dumps({"promised_on": at.date().isoformat(), "reason": "AP confirmed the payment run"}).encode())
    assert (status, json.loads(raw)["action"]) == (200, "promise")
