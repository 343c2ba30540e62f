"""Execution names for invoice ids as providers send them: Step Functions allows 1-80 characters and,
for CloudWatch logging, only 0-9 A-Z a-z - _ (no ':' nor '/', which the generic feed and Chargebee use)."""

from __future__ import annotations

import re

import pytest

from arrears.adapters.execution_names import MAX_NAME_LENGTH, execution_name
from arrears.adapters.step_functions import StepFunctionsWorkflows

VALID = re.compile(r"[0-9A-Za-z_-]{1,80}")
LONG_GENERIC_ID = "northwind-erp:eu-west:ledger-2026:" + "inv:0042:" * 19  # 205 characters, full of ':'
LONG_CHARGEBEE_ID = "cb/" + "2026.Q3.INV-" * 16  # 195 characters with '/' and '.'
PROVIDER_IDS = [
    "in_1PqRsT2eZvKYlo2C0a8bXy7Q",  # Stripe: already a valid name
    "txn_01hv8y7g6m2r9c4q8x2n5f3d7k",  # Paddle
    "acme:eu:INV-2026-000123", "acme:eu:INV_2026_000123", "acme_eu_INV-2026-000123",  # one name once ':' is gone
    LONG_GENERIC_ID, LONG_GENERIC_ID[:-1] + "1", LONG_CHARGEBEE_ID, "a" * 72, "a" * 73, "a" * 81,
    "INV-7-r1", "INV-7", "INV--h0123456789abcdef0123", "Rechnung 2026/ä#17",
]


@pytest.mark.parametrize("invoice_id", PROVIDER_IDS)
def test_every_name_is_one_step_functions_accepts_and_logs(invoice_id):
    # Given an invoice id as a provider sends it; When it is named, also as its renewals
    for renewal in (0, 1, 999_999):
        name = execution_name(invoice_id, renewal)
        # Then the name is at most 80 characters of the loggable set
        assert VALID.fullmatch(name), name
        assert len(name) <= MAX_NAME_LENGTH


def test_names_are_unique_across_ids_and_renewals_and_stable():
    # Given ids that differ only in characters a name cannot carry, or past the 80th character
    names = [execution_name(i, r) for i in PROVIDER_IDS for r in (0, 1, 2)]
    # Then no two invoices (nor an invoice and another's successor) share a name
    assert len(set(names)) == len(names)
    # And the name is the same every time it is derived (start, describe, stop, renewal)
    assert names == [execution_name(i, r) for i in PROVIDER_IDS for r in (0, 1, 2)]


def test_a_valid_short_id_stays_readable_and_a_long_one_keeps_a_readable_prefix():
    assert execution_name("in_1PqRsT2eZvKYlo2C0a8bXy7Q") == "in_1PqRsT2eZvKYlo2C0a8bXy7Q"
    assert execution_name("in_1PqRsT2eZvKYlo2C0a8bXy7Q", 1) == "in_1PqRsT2eZvKYlo2C0a8bXy7Q-r1"
    assert execution_name(LONG_GENERIC_ID).startswith("northwind-erp_eu-west_ledger-2026_")


def test_the_adapter_describes_and_stops_the_execution_it_started():
    # Given the state machine of a stack; Then the ARN it describes and stops ends with the started name
    workflows = StepFunctionsWorkflows("arn:aws:states:eu-west-1:123456789012:stateMachine:arrears-dunning")
    arn = workflows.execution_arn(LONG_GENERIC_ID)
    assert arn == f"arn:aws:states:eu-west-1:123456789012:execution:arrears-dunning:{execution_name(LONG_GENERIC_ID)}"
