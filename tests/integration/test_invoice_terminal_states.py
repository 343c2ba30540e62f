"""Terminal states in DynamoDB (moto): nothing leaves paid or void; a written-off invoice may still be paid."""

from __future__ import annotations

from datetime import timedelta

from arrears.domain.models import InvoiceStatus
from arrears.adapters.dynamo import DynamoStore


def test_a_write_off_can_be_recovered_by_a_payment_and_nothing_else_leaves_a_terminal_state(stack, open_invoice):
    store = DynamoStore(stack.table_name)
    later = open_invoice.provider_updated_at + timedelta(days=60)
    # Given an invoice the finance team wrote off
    assert store.save_invoice_facts(open_invoice)
    assert store.write_off(open_invoice.invoice_id, later)
    # When the billing platform says it was paid after all, Then it is paid (a recovery)
    paid = open_invoice.model_copy(update={"status": InvoiceStatus.PAID, "amount_paid": open_invoice.amount_due,
                                           "amount_remaining": 0, "provider_updated_at": later + timedelta(days=10)})
    assert store.save_invoice_facts(paid)
    assert store.get_invoice(open_invoice.invoice_id).status is InvoiceStatus.PAID
    # And neither a write-off nor an older open snapshot takes it back
    uncollectible = paid.model_copy(update={"status": InvoiceStatus.UNCOLLECTIBLE, "provider_updated_at": later + timedelta(days=20)})
    assert not store.save_invoice_facts(uncollectible) and not store.save_invoice_facts(open_invoice)
    # Given another invoice that was voided, Then a payment does not reopen it
    voided = open_invoice.model_copy(update={"invoice_id": "in_1QVoided0000000", "status": InvoiceStatus.VOID})
    assert store.save_invoice_facts(voided)
    assert not store.save_invoice_facts(paid.model_copy(update={"invoice_id": "in_1QVoided0000000"}))
    assert store.get_invoice("in_1QVoided0000000").status is InvoiceStatus.VOID


def test_a_payment_whose_answer_was_lost_is_still_its_own_write(stack, open_invoice, monkeypatch):
    from botocore.exceptions import ClientError

    store = DynamoStore(stack.table_name)
    assert store.save_invoice_facts(open_invoice)
    paid = open_invoice.model_copy(update={"status": InvoiceStatus.PAID, "amount_paid": open_invoice.amount_due,
                                           "amount_remaining": 0,
                                           "provider_updated_at": open_invoice.provider_updated_at + timedelta(days=3)})
    # Given a table whose answer to the payment's write is lost: botocore retries, and the retry meets the write
    # itself (the invoice is paid now, so the condition refuses it)
    table, update_item = store._table, store._table.update_item

    def lost_answer(**request):
        update_item(**request)
        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}},
                          "UpdateItem")

    monkeypatch.setattr(table, "update_item", lost_answer)
    # When the payment is saved, Then it counts as written (the webhook logs it), and the invoice is paid
    assert store.save_invoice_facts(paid)
    monkeypatch.setattr(table, "update_item", update_item)
    assert store.get_invoice(open_invoice.invoice_id).status is InvoiceStatus.PAID
    # And another caller's write refused by the same condition is still refused
    assert not store.save_invoice_facts(open_invoice.model_copy(update={"status": InvoiceStatus.VOID}))
