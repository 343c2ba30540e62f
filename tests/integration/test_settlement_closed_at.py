"""Both stores record when an invoice was settled (`closed_at`), so reports over simulator records match AWS's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.usecases.finance.reports import collection_figures
from arrears.domain.models import Invoice, InvoiceStatus
from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.memory import MemoryStore

ISSUED = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)
PAID = datetime(2026, 10, 8, 14, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return DynamoStore(request.getfixturevalue("stack").table_name)


def _invoice(**changes) -> Invoice:
    base = Invoice(invoice_id="in_1QSettledAt001", provider="stripe", number="NW-2026-0101", customer_id="cus_QhK2mN8vLp4Rt1",
                   currency="GBP", amount_due=480_000, amount_paid=0, amount_remaining=480_000, issued_at=ISSUED,
                   due_at=ISSUED + timedelta(days=30), provider_updated_at=ISSUED)
    return base.model_copy(update=changes)


def test_a_payment_sets_closed_at_to_when_the_platform_settled_it(store):
    # Given an open invoice, then its payment on 8 October
    assert store.save_invoice_facts(_invoice())
    assert store.save_invoice_facts(_invoice(status=InvoiceStatus.PAID, amount_paid=480_000, amount_remaining=0,
                                             provider_updated_at=PAID))
    stored = store.get_invoice("in_1QSettledAt001")
    # Then the store says when it was settled, and the report counts 37 days to collect (not thousands of days of DSO)
    assert stored.closed_at == PAID
    figures = collection_figures([stored], datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert (figures["GBP"].ending_receivables, figures["GBP"].collected_count) == (0, 1)
    assert str(figures["GBP"].average_days_to_collect) == "37.00"
