"""A due date moved earlier while the workflow waits: the debtor gets the message that fits, not a burst."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from arrears.ingestion.billing_changes import InvoiceUpdate, UpdateKind
from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, read_book
from tests.unit.test_simulator import ROW, book_file

START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)
MOVED_AT = datetime(2026, 9, 20, 12, tzinfo=timezone.utc)


def test_a_due_date_moved_earlier_sends_only_the_step_that_fits_when_the_workflow_wakes(tmp_path, default_policy):
    # Given an invoice due 1 October 2026, whose workflow waits for its courtesy reminder (24 September)
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="")))
    item = book[0]
    # When on 20 September the billing platform says it was really due on 10 August (a correction)
    moved = item.invoice.model_copy(update={"due_at": datetime(2026, 8, 10, 9, tzinfo=timezone.utc),
                                            "provider_updated_at": MOVED_AT})
    simulation = Simulation(default_policy)
    simulation.add_updates(book_updates(book))
    simulation.add_updates([(MOVED_AT, InvoiceUpdate("moved-1", "invoice.updated", UpdateKind.OPENED, MOVED_AT, moved,
                                                     item.customer))])
    result = simulation.run(START + timedelta(days=40))
    entries = result.logs["in_1"]
    woke = [e for e in entries if e.at.date() == datetime(2026, 9, 24).date()]
    sent = [e.step_id for e in woke if e.kind in ("email", "letter", "call_task")]
    # Then at that wake-up only the latest step now due goes out (the formal notice, +30 days: 9 September)...
    assert sent == ["formal_notice"]
    # ...and the earlier ones are recorded as superseded, not sent
    skipped = {e.step_id for e in woke if e.kind == "step_skipped"}
    assert {"due_notice", "overdue_7", "overdue_15", "call_15"} <= skipped
    assert all("superseded" in e.details["reason"] for e in woke if e.kind == "step_skipped")
