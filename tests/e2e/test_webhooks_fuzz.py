"""schemathesis against openapi/webhooks.json over real HTTP (`arrears serve`), each generated body signed as
its platform signs: no 5xx, and every answer is a documented status with a documented body."""

from __future__ import annotations


import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from arrears.ingestion.providers import chargebee, generic, paddle, stripe
from arrears_local.runtime import (
    LOCAL_CHARGEBEE_CREDENTIALS, LOCAL_GENERIC_SECRET, LOCAL_PADDLE_SECRET, LOCAL_STRIPE_SECRET, LocalRuntime,
)
from arrears_local.serve import LocalServer
from arrears_local.webhooks_openapi import WEBHOOKS_DOCUMENT, webhooks_openapi
from tests.e2e.serving import serving
from tests.integration.conftest import START

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_committed_openapi_document_is_up_to_date():
    # A change to a provider's parsing models must reach openapi/webhooks.json (`arrears openapi` writes it)
    assert WEBHOOKS_DOCUMENT.read_text(encoding="utf-8") == webhooks_openapi()


@pytest.fixture(scope="module")
def served():
    with LocalRuntime(start=START) as runtime:
        with serving(LocalServer(runtime, clock="virtual")) as base_url:
            yield runtime, base_url


def signed_headers(provider: str, body: bytes, unix: int) -> dict[str, str]:
    """The hook: the header each platform would send for exactly these bytes."""
    return {"stripe": {"Stripe-Signature": stripe.sign(body, LOCAL_STRIPE_SECRET, unix)},
            "paddle": {"Paddle-Signature": paddle.sign(body, LOCAL_PADDLE_SECRET, unix)},
            "chargebee": {"Authorization": chargebee.basic_auth_header(LOCAL_CHARGEBEE_CREDENTIALS)},
            "generic": {"Arrears-Signature": generic.sign(body, LOCAL_GENERIC_SECRET, unix)}}[provider]


def test_fuzzing_every_webhook_route_finds_no_server_error_and_no_schema_violation(served):
    runtime, base_url = served
    schema = schemathesis.openapi.from_path(str(WEBHOOKS_DOCUMENT))
    schema.config.update(base_url=base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(operation.path for operation in operations) == [
        "/webhooks/chargebee", "/webhooks/generic", "/webhooks/paddle", "/webhooks/stripe"]
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        provider = operation.path.rsplit("/", 1)[1]

        @hypothesis.settings(max_examples=40, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def deliver_signed(case):
            body = case.as_transport_kwargs(base_url=base_url).get("json")
            raw = requests.models.complexjson.dumps(body).encode() if body is not None else b""
            headers = {"Content-Type": "application/json", **signed_headers(provider, raw, int(runtime.now().timestamp()))}
            response = requests.post(f"{base_url}{operation.path}", data=raw, headers=headers, timeout=60)
            statuses.setdefault(provider, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        deliver_signed()
    # The signing hook works: bodies get past authentication (a refused signature would be 401 everywhere)
    assert all(401 not in codes and codes & {200, 400} for codes in statuses.values()), statuses
