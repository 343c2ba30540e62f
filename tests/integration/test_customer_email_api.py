"""The finance team's own addresses (PATCH /customers/{id}) are checked with email-validator: a bad one is a 422.

From a billing platform an unusable address is accepted and becomes a task (the platform's data, a person
fixes it there); the finance team typing one can fix it at once, so it is refused and nothing changes.
"""

from __future__ import annotations

import json

import pytest

from arrears.domain.models import Address, Customer
from arrears.adapters.dynamo import DynamoStore
from tests.integration.conftest import START

JANE = "arn:aws:iam::123456789012:user/finance-jane"
CUSTOMER_ID = "cus_QhK2vX4zWp2Ef5"


@pytest.fixture
def customer_stack(stack):
    DynamoStore(stack.table_name).save_customer(Customer(
        customer_id=CUSTOMER_ID, provider="stripe", name="Van Dijk Consultancy B.V.", email="crediteuren@vandijk.example",
        address=Address(line1="Herengracht 280", city="Amsterdam", postal_code="1016 BX", country="NL"),
        timezone="Europe/Amsterdam", updated_at=START))
    return stack


def patch(stack, body: dict):
    reply = stack.request("PATCH", f"/customers/{CUSTOMER_ID}", json.dumps(body), {"Content-Type": "application/json"},
                          principal=JANE)
    return reply.status_code, reply.json()


@pytest.mark.parametrize("field", ["email", "escalation_email"])
@pytest.mark.parametrize("address", [
    "cfo@vandijk.example\r\nBcc: everyone@rival.example",
    "CFO <cfo@vandijk.example>",
    "cfo@vandijk.example, ceo@vandijk.example",
    "cfo@localhost",
    "cfo@vandijk.test",
    "cfo\x00@vandijk.example",
])
def test_an_unusable_address_from_the_finance_team_is_a_422_and_changes_nothing(customer_stack, field, address):
    # When the finance team sets an address that is not one valid address
    status, body = patch(customer_stack, {field: address})
    # Then it is refused with a machine-readable error naming the field, and the customer is unchanged
    assert status == 422, body
    assert set(body) >= {"error", "message"} and field in json.dumps(body)
    stored = DynamoStore(customer_stack.table_name).get_customer(CUSTOMER_ID)
    assert (stored.email, stored.escalation_email) == ("crediteuren@vandijk.example", "")


def test_a_valid_address_is_stored_in_the_form_it_is_mailed_to(customer_stack):
    status, body = patch(customer_stack, {"escalation_email": "cfo@Bücher-vandijk.example"})
    assert status == 200, body
    stored = DynamoStore(customer_stack.table_name).get_customer(CUSTOMER_ID)
    # (its domain in ASCII, as SES takes it)
    assert stored.escalation_email == "cfo@" + "bücher-vandijk.example".encode("idna").decode()
