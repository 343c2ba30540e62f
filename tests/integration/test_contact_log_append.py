"""The contact log's append chains onto the entry it last saw without reading the log first; a stale
memory of the last entry (another writer appended meanwhile) must never break the chain."""

from __future__ import annotations

from datetime import timedelta

from arrears.domain.hash_chain import entry_to_dict, verify_chain
from arrears.adapters.dynamo import DynamoStore

INVOICE = "in_1QAppendCacheArrears0001"
CUSTOMER = "cus_QAppendCache01"


def _append(store: DynamoStore, stack, kind: str, minutes: int):
    return store.append(INVOICE, CUSTOMER, stack.now() + timedelta(minutes=minutes), kind=kind, actor="test")


def test_an_append_after_another_writers_append_still_chains_onto_it(stack):
    # Given two writers of one invoice's log (two Lambda containers, each with its own store)
    workflow, webhook = DynamoStore(stack.table_name), DynamoStore(stack.table_name)
    _append(workflow, stack, "collection_started", 0)
    _append(workflow, stack, "email", 1)
    # When the other writer appends, unknown to the first, and then the first appends again
    _append(webhook, stack, "payment_received", 2)
    _append(webhook, stack, "payment_received", 3)
    last = _append(workflow, stack, "collection_closed", 4)
    # Then the first writer's entry comes after the other's, chained onto it: one intact chain
    entries = DynamoStore(stack.table_name).entries(INVOICE)
    assert [(e.seq, e.kind) for e in entries] == [
        (1, "collection_started"), (2, "email"), (3, "payment_received"), (4, "payment_received"), (5, "collection_closed")]
    assert last.seq == 5 and last.prev_hash == entries[3].hash
    assert verify_chain(entry_to_dict(e) for e in entries) == []


def test_consecutive_appends_of_one_writer_read_the_log_once(stack, monkeypatch):
    store = DynamoStore(stack.table_name)
    reads = []
    original = DynamoStore._last_entry

    def counted(self, invoice_id):
        reads.append(invoice_id)
        return original(self, invoice_id)

    monkeypatch.setattr(DynamoStore, "_last_entry", counted)
    for minute, kind in enumerate(("collection_started", "email", "email", "letter")):
        _append(store, stack, kind, minute)
    assert reads == [INVOICE]  # the first append finds the log's end; the others chain onto their own
    entries = store.entries(INVOICE)
    assert [e.seq for e in entries] == [1, 2, 3, 4] and verify_chain(entry_to_dict(e) for e in entries) == []
