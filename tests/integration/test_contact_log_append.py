"""The contact log's append chains onto the entry it last saw without reading the log first; a stale
memory of the last entry (another writer appended meanwhile) must never break the chain."""

from __future__ import annotations

from datetime import timedelta

from arrears.domain.hash_chain import GENESIS_HASH, entry_to_dict, verify_chain
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


def _counting_log_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    original = DynamoStore._last_entry

    def counted(self, invoice_id):
        reads.append(invoice_id)
        return original(self, invoice_id)

    monkeypatch.setattr(DynamoStore, "_last_entry", counted)
    return reads


def test_the_first_entry_of_an_invoice_the_store_found_absent_is_appended_without_reading_the_log(stack, monkeypatch):
    # Given the webhook's store, which has just read the invoice and found it not in the table (a new invoice)
    store = DynamoStore(stack.table_name)
    assert store.get_invoice(INVOICE) is None
    reads = _counting_log_reads(monkeypatch)
    # When it appends the invoice's first entries
    _append(store, stack, "invoice_received", 0)
    _append(store, stack, "collection_started", 1)
    # Then the log is not read (issue #19: one Query fewer in an invoice.finalized request), and the chain is as ever
    assert reads == []
    entries = DynamoStore(stack.table_name).entries(INVOICE)
    assert [(e.seq, e.kind, e.prev_hash) for e in entries] == [
        (1, "invoice_received", GENESIS_HASH), (2, "collection_started", entries[0].hash)]
    assert verify_chain(entry_to_dict(e) for e in entries) == []


def test_an_empty_log_remembered_before_another_writers_appends_still_chains_onto_them(stack, monkeypatch):
    # Given a store that found the invoice absent, and then another writer that appended twice, unknown to it
    stale = DynamoStore(stack.table_name)
    assert stale.get_invoice(INVOICE) is None
    other = DynamoStore(stack.table_name)
    _append(other, stack, "invoice_received", 0)
    _append(other, stack, "collection_started", 1)
    reads = _counting_log_reads(monkeypatch)
    # When the first store appends, chaining onto the empty log it remembers
    last = _append(stale, stack, "email", 2)
    # Then its put of entry 1 fails, it reads the log once, and its entry comes third, chained onto the other's
    assert reads == [INVOICE]
    entries = DynamoStore(stack.table_name).entries(INVOICE)
    assert [(e.seq, e.kind) for e in entries] == [(1, "invoice_received"), (2, "collection_started"), (3, "email")]
    assert last.seq == 3 and last.prev_hash == entries[1].hash
    assert verify_chain(entry_to_dict(e) for e in entries) == []


def test_a_read_that_finds_no_invoice_never_forgets_a_log_entry_the_store_has_seen(stack, monkeypatch):
    # Given a store that appended to a log (its invoice's META is not written here), then reads the invoice
    store = DynamoStore(stack.table_name)
    _append(store, stack, "invoice_received", 0)
    assert store.get_invoice(INVOICE) is None
    reads = _counting_log_reads(monkeypatch)
    # When it appends again; Then it chains onto the entry it saw, without reading the log
    last = _append(store, stack, "email", 1)
    assert reads == [] and last.seq == 2
