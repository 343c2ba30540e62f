"""Unauthentic deliveries of every provider through the real handler: 401, nothing written, not remembered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears_local.portfolio import sample_portfolio
from tests.integration.conftest import count_items
from tests.integration.test_provider_webhooks import DELIVERIES, SIGNATURE_HEADERS, executions


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def _refusals(provider):
    cases = [("wrong secret", {"secret": "wrong:secret" if provider == "chargebee" else "whsec_wrong"}, None),
             ("missing header", {}, "drop")]
    if provider != "chargebee":  # Chargebee's Basic auth signs neither the body nor a time (docs/webhooks.md)
        cases += [("tampered body", {}, "tamper"), ("signed an hour ago", {"at": "past"}, None),
                  ("signed an hour ahead", {"at": "future"}, None)]
    return [(provider, *case) for case in cases]


@pytest.fixture(scope="module")
def shared_stack():
    """One stack for the refusal cases (each uses its own invoice): provisioning costs seconds."""
    from arrears_local.runtime import LocalRuntime
    from tests.integration.conftest import START

    with LocalRuntime(start=START) as runtime:
        yield runtime


@pytest.mark.parametrize("provider, case, options, change", [c for p in sorted(DELIVERIES) for c in _refusals(p)],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_an_unauthentic_delivery_is_refused_with_401_changes_nothing_and_is_not_remembered(shared_stack, sample, provider,
                                                                                             case, options, change):
    from dataclasses import replace
    from hashlib import sha256

    stack = shared_stack
    suffix = sha256(f"{provider}:{case}".encode()).hexdigest()[:8]
    sample = replace(sample, invoice_id=f"in_1QRefused{suffix}", number=f"NW-2026-R{suffix}")
    stack.engine.wait_idle()  # the workflows earlier cases started have written what they write
    started = len(executions(stack))
    # Given a delivery that is not authentic
    items = count_items(stack)
    kwargs = dict(options)
    if kwargs.get("at") == "past":
        kwargs["at"] = stack.now() - timedelta(hours=1)
    elif kwargs.get("at") == "future":
        kwargs["at"] = stack.now() + timedelta(hours=1)
    body, headers = DELIVERIES[provider](stack, sample, **kwargs)
    if change == "drop":
        headers.pop(SIGNATURE_HEADERS[provider])
    elif change == "tamper":
        body = body.replace(str(sample.total).encode(), str(sample.total // 10).encode(), 1)
    # When it is delivered
    reply = stack.request("POST", f"/webhooks/{provider}", body, headers)
    # Then it is refused with a machine-readable reason, nothing is written and nothing starts
    assert reply.status_code == 401, reply.body
    assert reply.json()["error"] and "Traceback" not in reply.body
    assert count_items(stack) == items and len(executions(stack)) == started
    # And the genuine delivery of the same event is still applied (the refusal was not remembered as done)
    body, headers = DELIVERIES[provider](stack, sample)
    assert stack.request("POST", f"/webhooks/{provider}", body, headers).json()["outcome"] == "started"
