"""Shared test setup: the repository root, the default policy, and realistic records."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# moto's Step Functions interpreter compares Wait timestamps with naive local time.
os.environ.setdefault("TZ", "UTC")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def default_policy():
    from arrears.domain.policy import load_policy_file

    return load_policy_file(ROOT / "policies" / "default.yaml")


@pytest.fixture
def berlin_customer():
    from arrears.domain.models import Address, Customer

    return Customer(
        customer_id="cus_QhK2pT5wQm7Yz2", provider="stripe", name="Müller & Söhne GmbH",
        email="buchhaltung@mueller-soehne.example",
        address=Address(line1="Friedrichstraße 123", city="Berlin", postal_code="10117", country="DE"),
        language="en", timezone="Europe/Berlin", segment="standard",
        updated_at=datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc),
    )


@pytest.fixture
def open_invoice(berlin_customer):
    from arrears.domain.models import Invoice, InvoiceLine

    return Invoice(
        invoice_id="in_1QAbCdEfGhIjKlMn", provider="stripe", number="NW-2026-0042", customer_id=berlin_customer.customer_id,
        currency="EUR", amount_due=125_000, amount_paid=0, amount_remaining=125_000,
        issued_at=datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc), due_at=datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc),
        pay_url="https://invoice.stripe.com/i/acct_1NwArrears/test_in_1QAbCdEfGhIjKlMn",
        lines=(InvoiceLine(description="Analytics Platform — Business plan", amount=100_000),
               InvoiceLine(description="Onboarding (fixed fee)", amount=25_000)),
        provider_updated_at=datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc),
    )

# The local runtime runs IAM-enforced in every test by default: each function as its own role from template.yaml,
# every call checked (arrears_local.iam, docs/local-runtime.md; about a tenth slower). ARREARS_LOCAL_IAM=0: without.
os.environ.setdefault("ARREARS_LOCAL_IAM", "1")
