"""A step's claim (the send protocol, docs/architecture.md), one contract for both adapters: DynamoDB (conditional
writes, on moto) and memory. And DynamoDB's lost answers: a conditional write that was applied, whose answer
was lost (a timeout; botocore retried it and met its own item: ConditionalCheckFailed), is read back as ours
for the step claim, its phase changes, the contact log's append and the customer's contact slot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, PHASE_SENDING, PHASE_SENT

INVOICE = "in_1QAbCdEfGhIjKlMn"
CUSTOMER = "cus_QhK2pT5wQm7Yz2"
AT = datetime(2026, 9, 24, 8, 0, tzinfo=timezone.utc)
TTL = timedelta(minutes=15)
WAKE_UP = "arn:aws:states:eu-central-1:123456789012:execution:arrears-dunning:in_1QAbCdEfGhIjKlMn|Send courtesy reminder|t1"


def test_a_claim_is_its_owners_and_another_takes_it_only_once_expired(store):
    # Given the wake-up claims the courtesy reminder
    first = store.take_step(INVOICE, "courtesy_reminder", WAKE_UP, AT, AT + TTL)
    assert first.mine and first.phase == PHASE_CLAIMED
    # When its own retry asks, it holds it; an escalation inside the claim's time does not
    assert store.take_step(INVOICE, "courtesy_reminder", WAKE_UP, AT + timedelta(seconds=30), AT + TTL).mine
    assert not store.take_step(INVOICE, "courtesy_reminder", "escalate:req-1", AT + timedelta(minutes=1), AT + TTL).mine
    # When the claim has expired, the escalation takes it over, and the old holder cannot send any more
    later = AT + TTL + timedelta(seconds=1)
    taken = store.take_step(INVOICE, "courtesy_reminder", "escalate:req-1", later, later + TTL)
    assert taken.mine and taken.phase == PHASE_CLAIMED
    assert not store.advance_step(INVOICE, "courtesy_reminder", first.holder, (PHASE_CLAIMED,), PHASE_SENDING)
    # Then its phases go on, recorded: sending -> sent (with what the log says) -> done
    assert store.advance_step(INVOICE, "courtesy_reminder", taken.holder, (PHASE_CLAIMED,), PHASE_SENDING,
                              {"fields": {"recipient": "buchhaltung@mueller-soehne.example"}, "message_ids": []})
    assert not store.advance_step(INVOICE, "courtesy_reminder", taken.holder, (PHASE_CLAIMED,), PHASE_SENDING)
    assert store.advance_step(INVOICE, "courtesy_reminder", taken.holder, (PHASE_SENDING,), PHASE_SENT,
                              {"log": {"kind": "email", "message_id": "0100019a-5f1e"}})
    [(step_id, claim)] = store.step_claims(INVOICE).items()
    assert step_id == "courtesy_reminder" and claim.phase == PHASE_SENT
    assert claim.record == {"log": {"kind": "email", "message_id": "0100019a-5f1e"}}
    # And a claim past "claimed" is never released (SES has had the message); done, it is nobody's
    store.release_step(INVOICE, "courtesy_reminder", taken.holder)
    assert store.advance_step(INVOICE, "courtesy_reminder", taken.holder, (PHASE_SENT,), PHASE_DONE)
    much_later = later + 3 * TTL
    assert store.take_step(INVOICE, "courtesy_reminder", "escalate:req-2", much_later, much_later + TTL).phase == PHASE_DONE
    assert not store.take_step(INVOICE, "courtesy_reminder", "escalate:req-2", much_later, much_later + TTL).mine


def test_a_released_claim_is_claimed_anew_and_a_once_only_claim_reads_as_done(store):
    # Given a claim released while nothing went to SES
    claim = store.take_step(INVOICE, "due_notice", WAKE_UP, AT, AT + TTL)
    store.release_step(INVOICE, "due_notice", claim.holder)
    # Then another caller claims it at once
    assert store.take_step(INVOICE, "due_notice", "escalate:req-3", AT, AT + TTL).mine
    # And a once-only record (the workflow's start) is done for take_step: never sent as a step
    assert store.claim_step(INVOICE, "-start", AT) and not store.claim_step(INVOICE, "-start", AT)
    assert store.take_step(INVOICE, "-start", WAKE_UP, AT + TTL * 2, AT + TTL * 3).phase == PHASE_DONE


class LosingAnswers:
    """The table, but the next call of an armed method is applied and its answer lost: botocore sends it again,
    and the caller sees that second call's answer (ConditionalCheckFailed for a conditional write it won)."""

    def __init__(self, table):
        self._table = table
        self.armed: set[str] = set()
        self.lost = 0

    def __getattr__(self, name):
        real = getattr(self._table, name)
        if name not in ("put_item", "update_item"):
            return real

        def call(**request):
            if name in self.armed:
                self.armed.discard(name)
                real(**request)
                self.lost += 1
            return real(**request)

        return call


@pytest.fixture
def losing(stack, monkeypatch):
    store = DynamoStore(stack.table_name)
    table = LosingAnswers(store._table)
    monkeypatch.setattr(DynamoStore, "_table", property(lambda self: table))
    return store, table


def test_a_lost_answer_to_the_step_claim_and_its_phase_changes_reads_back_as_ours(losing):
    store, table = losing
    # When the claim's put is applied and its answer lost
    table.armed.add("put_item")
    claim = store.take_step(INVOICE, "courtesy_reminder", None, AT, AT + TTL)
    # Then the caller still holds it (an anonymous caller too: the write id tells)
    assert table.lost == 1 and claim.mine and claim.phase == PHASE_CLAIMED
    # And a phase change whose answer was lost is ours as well
    table.armed.add("update_item")
    assert store.advance_step(INVOICE, "courtesy_reminder", claim.holder, (PHASE_CLAIMED,), PHASE_SENDING)
    assert table.lost == 2 and store.step_claims(INVOICE)["courtesy_reminder"].phase == PHASE_SENDING
    # And so is a once-only claim
    table.armed.add("put_item")
    assert store.claim_step(INVOICE, "-start", AT) and table.lost == 3


def test_a_lost_answer_to_a_log_append_appends_once(losing):
    store, table = losing
    store.append(INVOICE, CUSTOMER, AT, kind="collection_started", actor="arrears-workflow")
    # When the email's entry is written and its answer lost
    table.armed.add("put_item")
    entry = store.append(INVOICE, CUSTOMER, AT, kind="email", actor="arrears-workflow", step_id="courtesy_reminder",
                         message_id="0100019a-5f1e")
    # Then the log has it once, chained after the first entry
    assert table.lost == 1
    assert [(e.seq, e.kind) for e in store.entries(INVOICE)] == [(1, "collection_started"), (2, "email")]
    assert entry.seq == 2


def test_a_lost_answer_to_the_contact_slot_claim_keeps_the_message_going(losing):
    store, table = losing
    gap = timedelta(days=3)
    # When the customer's slot is claimed and the write's answer lost
    table.armed.add("put_item")
    assert store.claim_contact_slot(CUSTOMER, INVOICE, "courtesy_reminder", AT, gap) is None
    # Then the message may go, and the slot names it: another invoice waits behind it
    assert table.lost == 1
    ahead = store.claim_contact_slot(CUSTOMER, "in_1QZyXwVuTsRqPo99", "courtesy_reminder", AT + timedelta(hours=1), gap)
    assert (ahead.invoice_id, ahead.step_id, ahead.at) == (INVOICE, "courtesy_reminder", AT)
