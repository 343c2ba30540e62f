"""The finance team's credit limits per customer and currency (PATCH /customers/{id}, issue #20): shown on
GET /customers/{id} with the exposure; a bad currency or amount is a 422 and changes nothing; {} clears them."""

from __future__ import annotations

import json

import pytest

from tests.integration import test_customer_email_api as email_api
from tests.integration.test_customer_email_api import CUSTOMER_ID, patch

customer_stack = email_api.customer_stack  # the fixture: a stack with Van Dijk's customer record


def test_a_limit_is_set_shown_with_the_exposure_and_cleared(customer_stack):
    status, view = patch(customer_stack, {"credit_limits": {"EUR": 2_500_000}})
    assert status == 200 and view["finance_settings"]["credit_limits"] == {"EUR": 2_500_000}
    assert view["credit_limits"] == {"EUR": {"limit": 2_500_000, "exposure": 0, "over_limit": False, "source": "customer"}}
    # No paid invoice yet: figures at zero, no band (a band needs 3 paid invoices)
    assert view["payment_behaviour"]["invoices_paid"] == 0 and view["payment_behaviour"]["trend"] == "not_enough_history"
    assert view["risk_band"] is None and view["risk_band_reason"] == "0 paid invoice(s); a band needs 3"
    status, view = patch(customer_stack, {"credit_limits": {}})
    assert status == 200 and "credit_limits" not in view["finance_settings"] and view["credit_limits"] == {}


@pytest.mark.parametrize("limits", [{"eur": 100}, {"EURO": 100}, {"EUR": -1}, {"EUR": "lots"}, {"EUR": 10**14},
                                    {f"X{chr(65 + i // 26)}{chr(65 + i % 26)}": 1 for i in range(30)}, ["EUR", 100]])
def test_a_bad_limit_is_refused_and_changes_nothing(customer_stack, limits):
    status, body = patch(customer_stack, {"credit_limits": limits})
    assert status == 422 and body["error"] == "invalid_request"
    reply = customer_stack.request("GET", f"/customers/{CUSTOMER_ID}")
    assert json.loads(reply.body)["finance_settings"] == {}
