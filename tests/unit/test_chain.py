from datetime import datetime, timedelta, timezone

from arrears.domain.hash_chain import GENESIS_HASH, chain_entry, compute_hash, entry_to_dict, verify_chain

T0 = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)


def _log(n: int) -> list[dict]:
    entries, previous = [], None
    for i in range(n):
        previous = chain_entry(previous, T0 + timedelta(days=i), invoice_id="in_1", customer_id="cus_1",
                               kind="email", actor="arrears-workflow", step_id=f"step_{i}", details={"balance": 125_000})
        entries.append(entry_to_dict(previous))
    return entries


def test_an_intact_chain_verifies():
    log = _log(4)
    assert log[0]["prev_hash"] == GENESIS_HASH and log[1]["prev_hash"] == log[0]["hash"]
    assert verify_chain(log) == []


def test_an_edited_entry_is_named():
    log = _log(4)
    log[2]["details"]["balance"] = 1
    assert verify_chain(log) == ["in_1 #3: content does not match its hash (altered entry)"]


def test_a_deleted_entry_is_detected():
    log = _log(4)
    del log[1]
    problems = verify_chain(log)
    assert any("#3: expected entry #2" in p for p in problems)
    assert any("prev_hash" in p for p in problems)


def test_swapped_entries_are_detected():
    log = _log(4)
    log[1], log[2] = log[2], log[1]
    assert len(verify_chain(log)) >= 2


def test_a_recomputed_hash_does_not_hide_an_edit_from_the_next_entry():
    # Given an attacker who edits entry 2 and recomputes its own hash
    log = _log(3)
    log[1]["step_id"] = "forged"
    log[1]["hash"] = compute_hash(log[1])
    # Then the following entry no longer links to it
    assert verify_chain(log) == ["in_1 #3: prev_hash does not match the entry before it"]
