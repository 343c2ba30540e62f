"""The customer's contact slot behind the policy's minimum gap, one contract for both adapters: DynamoDB
(conditional writes, on moto) and memory (the simulator's). Rules: arrears.domain.contact_queue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# The `store` fixture (both adapters) is tests/integration/conftest.py's.
CUSTOMER = "cus_QhK2pT5wQm7Yz2"
MORNING = datetime(2026, 9, 24, 8, 0, tzinfo=timezone.utc)
GAP = timedelta(days=3)


def claim(store, invoice_id, step_id, at):
    ahead = store.claim_contact_slot(CUSTOMER, invoice_id, step_id, at, GAP)
    return None if ahead is None else (ahead.invoice_id, ahead.step_id, ahead.at)


def test_one_message_per_gap_a_retry_of_the_holder_and_the_next_after_the_gap(store):
    # Given the courtesy reminder of one invoice claims the customer's slot
    assert claim(store, "in_A", "courtesy_reminder", MORNING) is None
    # When another invoice of the customer wants to send a day later, or at the same instant
    # Then it is told which message it waits behind
    assert claim(store, "in_B", "courtesy_reminder", MORNING + timedelta(days=1)) == ("in_A", "courtesy_reminder", MORNING)
    assert claim(store, "in_C", "due_notice", MORNING) == ("in_A", "courtesy_reminder", MORNING)
    # And a retry of the holding step may still send (its first attempt may have failed)
    assert claim(store, "in_A", "courtesy_reminder", MORNING + timedelta(minutes=1)) is None
    # When the gap has passed (counted from the retry, the later of the two), another invoice gets it
    after = MORNING + timedelta(minutes=1) + GAP
    assert claim(store, "in_B", "courtesy_reminder", after - timedelta(seconds=1)) is not None
    assert claim(store, "in_B", "courtesy_reminder", after) is None
    assert claim(store, "in_A", "due_notice", after) == ("in_B", "courtesy_reminder", after)
    # And other customers are not affected
    assert store.claim_contact_slot("cus_Other", "in_Z", "due_notice", after, GAP) is None


def test_the_message_refused_first_is_next_in_line_and_not_overtaken(store):
    # Given invoice A's reminder went out, and B's was refused a day later and reserved the moment the gap ends
    gap_ends = MORNING + GAP
    assert claim(store, "in_A", "overdue_7", MORNING) is None
    assert claim(store, "in_B", "overdue_7", MORNING + timedelta(days=1)) == ("in_A", "overdue_7", MORNING)
    assert store.reserve_contact_slot(CUSTOMER, "in_B", "overdue_7", gap_ends, MORNING + timedelta(days=1)) is True
    # And C, refused later, cannot take B's place in line
    assert store.reserve_contact_slot(CUSTOMER, "in_C", "due_notice", gap_ends, MORNING + timedelta(days=2)) is False
    # When C's own step falls due at the very moment the gap ends
    # Then C waits behind B, and B goes
    assert claim(store, "in_C", "due_notice", gap_ends) == ("in_B", "overdue_7", gap_ends)
    assert claim(store, "in_B", "overdue_7", gap_ends) is None
    # And C is next in line now that B's reservation is used
    assert store.reserve_contact_slot(CUSTOMER, "in_C", "due_notice", gap_ends + GAP, gap_ends) is True
    assert claim(store, "in_C", "due_notice", gap_ends + GAP) is None


def test_a_reservation_nobody_uses_lapses_after_an_hour(store):
    # Given B reserved the moment the gap ends, then its invoice was paid and its workflow never came
    gap_ends = MORNING + GAP
    assert claim(store, "in_A", "overdue_7", MORNING) is None
    store.claim_contact_slot(CUSTOMER, "in_B", "overdue_7", MORNING + timedelta(hours=2), GAP)
    assert store.reserve_contact_slot(CUSTOMER, "in_B", "overdue_7", gap_ends, MORNING + timedelta(hours=2))
    # When another invoice's message is due within the hour after, and then later that day
    # Then it waits behind B within the hour, and goes once the reservation has lapsed
    assert claim(store, "in_C", "due_notice", gap_ends + timedelta(minutes=59))[0] == "in_B"
    assert claim(store, "in_C", "due_notice", gap_ends + timedelta(hours=2)) is None


def test_a_retry_of_the_last_message_does_not_put_the_next_in_line_behind_itself(store):
    # Given A sent, B was refused and reserved the end of the gap, then A's send was retried a minute later
    assert claim(store, "in_A", "overdue_7", MORNING) is None
    store.claim_contact_slot(CUSTOMER, "in_B", "overdue_7", MORNING + timedelta(seconds=30), GAP)
    assert store.reserve_contact_slot(CUSTOMER, "in_B", "overdue_7", MORNING + GAP, MORNING + timedelta(seconds=30))
    assert claim(store, "in_A", "overdue_7", MORNING + timedelta(minutes=1)) is None
    # When B comes at the moment it reserved (less than the gap after A's retry)
    # Then it waits behind A's retry (the real send), not behind its own reservation
    assert claim(store, "in_B", "overdue_7", MORNING + GAP) == ("in_A", "overdue_7", MORNING + timedelta(minutes=1))
    assert claim(store, "in_B", "overdue_7", MORNING + GAP + timedelta(minutes=1)) is None


def test_first_refused_first_served_across_three_waiting_invoices(store):
    # Given A's reminder went out, B was refused a day later (first in line) and C half a day after B (second)
    assert claim(store, "in_A", "overdue_7", MORNING) is None
    assert claim(store, "in_B", "overdue_7", MORNING + timedelta(days=1)) == ("in_A", "overdue_7", MORNING)
    assert store.reserve_contact_slot(CUSTOMER, "in_B", "overdue_7", MORNING + GAP, MORNING + timedelta(days=1)) is True
    assert claim(store, "in_C", "due_notice", MORNING + timedelta(days=1, hours=12)) == ("in_B", "overdue_7", MORNING + GAP)
    assert store.reserve_contact_slot(CUSTOMER, "in_C", "due_notice", MORNING + 2 * GAP,
                                      MORNING + timedelta(days=1, hours=12)) is False
    # When B goes, and D is refused a day later
    assert claim(store, "in_B", "overdue_7", MORNING + GAP) is None
    refused_d = MORNING + GAP + timedelta(days=1)
    # Then D waits behind C, which has waited longer, not behind B's send
    assert claim(store, "in_D", "overdue_15", refused_d) == ("in_C", "due_notice", MORNING + 2 * GAP)
    assert store.reserve_contact_slot(CUSTOMER, "in_D", "overdue_15", MORNING + 3 * GAP, refused_d) is False
    # And when D's step falls due at C's moment and wakes first, C still goes first
    assert claim(store, "in_D", "overdue_15", MORNING + 2 * GAP) == ("in_C", "due_notice", MORNING + 2 * GAP)
    assert claim(store, "in_C", "due_notice", MORNING + 2 * GAP) is None
    assert claim(store, "in_D", "overdue_15", MORNING + 3 * GAP) is None


def test_a_settled_invoices_place_in_line_is_freed_at_once(store):
    # Given B reserved the end of the gap, and B's invoice was then paid
    gap_ends = MORNING + GAP
    assert claim(store, "in_A", "overdue_7", MORNING) is None
    store.claim_contact_slot(CUSTOMER, "in_B", "overdue_7", MORNING + timedelta(hours=2), GAP)
    assert store.reserve_contact_slot(CUSTOMER, "in_B", "overdue_7", gap_ends, MORNING + timedelta(hours=2))
    # When its place is released (the invoice is settled)
    store.release_contact_reservation(CUSTOMER, "in_B", gap_ends)
    # Then another invoice's message due when the gap ends goes at once, not an hour later
    assert claim(store, "in_C", "due_notice", gap_ends) is None
    # And releasing an invoice that holds no place changes nothing
    store.release_contact_reservation(CUSTOMER, "in_Z", gap_ends)
    assert claim(store, "in_D", "due_notice", gap_ends + timedelta(hours=1)) == ("in_C", "due_notice", gap_ends)
