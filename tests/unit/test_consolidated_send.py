"""One message per customer in the workflow (issue #15), on in-memory adapters, fault-free and under faults.

Müller & Söhne (Berlin) owes two invoices due the same day, under the default policy (v3: consolidation on)
with a 3-day gap. Their courtesy reminders fall due at the same moment: the first invoice's workflow sends one
message covering both, and the second's workflow finds its step done. Under the send protocol
(docs/architecture.md): the process dies at each point of the consolidated send, SES refuses, the other
invoice's own workflow holds its step. Nothing is sent twice; each covered step is either done by that message
(or logged as unconfirmed for a person) or free to go alone, never silently skipped.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.domain import dunning
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, PHASE_SENDING, DeliveryRefused, Ports
from tests.unit.test_contact_gap import COURTESY_AT, SECOND, two_invoices
from tests.unit.test_send_faults import ATTEMPT, ProcessDied, die_once

FIRST_STEP = "courtesy_reminder"
SECOND_ATTEMPT = f"{ATTEMPT.replace('in_1QAbCdEfGhIjKlMn', SECOND)}"


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    ports = two_invoices(default_policy, open_invoice, berlin_customer, consolidate=True)
    ports.clock.at = COURTESY_AT  # Thursday 10:00 in Berlin: both courtesy reminders are due
    return ports


def messages(ports: Ports, invoice_id: str) -> list[tuple]:
    return [(e.kind, e.step_id, e.message_id, e.details.get("covered_by", {}).get("invoice_id"))
            for e in ports.log.entries(invoice_id) if e.kind in ("email", "letter", "contact_unconfirmed")]


def phase(ports: Ports, invoice_id: str, step_id: str = FIRST_STEP) -> str | None:
    claim = ports.store.claims.get((invoice_id, step_id))
    return claim["phase"] if claim else None


def test_two_invoices_due_together_get_one_message_and_the_second_finds_its_step_done(world, open_invoice):
    first = open_invoice.invoice_id
    # When the first invoice's workflow wakes
    dunning.run_due_steps(first, world, ATTEMPT)
    # Then one email went, listing both invoices, and both logs record the step as done by it
    assert len(world.mailer.sent) == 1
    message_id = world.log.entries(first)[-1].message_id
    assert messages(world, first) == [("email", FIRST_STEP, message_id, None)]
    assert messages(world, SECOND) == [("email", FIRST_STEP, message_id, first)]
    carrier = [e for e in world.log.entries(first) if e.kind == "email"][0]
    assert carrier.details["covers"] == [{"invoice_id": SECOND, "step_id": FIRST_STEP}]
    covered = [e for e in world.log.entries(SECOND) if e.kind == "email"][0]
    assert covered.details["covered_by"] == {"invoice_id": first, "step_id": FIRST_STEP, "message_id": message_id}
    assert covered.details["reference"] == "NW-2026-0043" and covered.subject == carrier.subject
    raw = world.mailer.sent[0][2].decode("utf-8", "replace")
    assert "NW-2026-0042" in raw and "NW-2026-0043" in raw
    # And when the second invoice's workflow wakes at the same moment, nothing more goes out and nothing waits
    decision = dunning.run_due_steps(SECOND, world, SECOND_ATTEMPT)
    assert len(world.mailer.sent) == 1 and decision.step_id != FIRST_STEP
    assert FIRST_STEP in world.store.get_invoice(SECOND).completed_steps
    assert "contact_deferred" not in [e.kind for e in world.log.entries(SECOND)]


def test_a_step_its_own_workflow_holds_drops_out_and_the_message_goes_without_it(world, open_invoice):
    # Given the second invoice's workflow holds its courtesy reminder (claimed, sending it itself this moment)
    held = world.store.take_step(SECOND, FIRST_STEP, SECOND_ATTEMPT, COURTESY_AT, COURTESY_AT + dunning.STEP_CLAIM_TTL)
    # When the first invoice's workflow wakes
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then its message covers only its own step; the second's claim is untouched, for its own workflow
    assert len(world.mailer.sent) == 1
    assert messages(world, SECOND) == []
    assert world.store.claims[(SECOND, FIRST_STEP)]["holder"] == held.holder
    assert phase(world, SECOND) == PHASE_CLAIMED


def test_a_crash_before_ses_sends_one_message_on_the_retry(world, open_invoice, monkeypatch):
    first = open_invoice.invoice_id
    # Given the process dies as the first invoice's claim moves to "sending" (the second's is "sending" already)
    die_once(monkeypatch, world.store, "advance_step",
             when=lambda invoice_id, step_id, holder, expected, new_phase, *rest: invoice_id == first and new_phase == PHASE_SENDING)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(first, world, ATTEMPT)
    assert world.mailer.sent == [] and phase(world, SECOND) == PHASE_SENDING and phase(world, first) == PHASE_CLAIMED
    # When Step Functions retries the state (the same owner)
    world.clock.at = COURTESY_AT + timedelta(seconds=20)
    dunning.run_due_steps(first, world, ATTEMPT)
    # Then one message goes, covering both (nothing had gone out), and nothing is left unconfirmed
    assert len(world.mailer.sent) == 1
    assert [m[3] for m in messages(world, SECOND)] == [first]
    assert phase(world, first) == phase(world, SECOND) == PHASE_DONE


def test_a_crash_after_ses_took_it_logs_both_once_from_the_record(world, open_invoice, monkeypatch):
    first = open_invoice.invoice_id
    # Given SES took the message and the process died before any log entry
    die_once(monkeypatch, world.log, "append", when=lambda *args, **fields: fields.get("kind") == "email")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(first, world, ATTEMPT)
    assert len(world.mailer.sent) == 1 and messages(world, SECOND) == []
    # When the state is retried
    world.clock.at = COURTESY_AT + timedelta(seconds=20)
    dunning.run_due_steps(first, world, ATTEMPT)
    # Then nothing is sent again, and each log has the message once, the second's as covered by it
    assert len(world.mailer.sent) == 1
    message_id = messages(world, first)[0][2]
    assert messages(world, first) == [("email", FIRST_STEP, message_id, None)]
    assert messages(world, SECOND) == [("email", FIRST_STEP, message_id, first)]


def test_a_crash_while_ses_had_it_is_unconfirmed_for_both_and_never_resent(world, open_invoice, monkeypatch):
    first = open_invoice.invoice_id
    # Given the process died while SES had the message (its answer never recorded)
    die_once(monkeypatch, world.mailer, "send", after=True)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(first, world, ATTEMPT)
    # When the state is retried
    world.clock.at = COURTESY_AT + timedelta(seconds=20)
    dunning.run_due_steps(first, world, ATTEMPT)
    # Then nothing is sent again; both steps are logged as unconfirmed, each with a task for a person
    assert len(world.mailer.sent) == 1
    assert [m[0] for m in messages(world, first)] == ["contact_unconfirmed"]
    assert [m[0] for m in messages(world, SECOND)] == ["contact_unconfirmed"]
    tasks = [t for t in world.store.tasks.values() if t["kind"] == "confirm_contact_sent"]
    assert sorted(t["invoice_id"] for t in tasks) == sorted([first, SECOND])
    # And the second invoice's workflow finds its step done: it never sends it alone
    dunning.run_due_steps(SECOND, world, SECOND_ATTEMPT)
    assert len(world.mailer.sent) == 1


def test_an_attempt_that_died_and_never_came_back_leaves_the_covered_step_to_its_own_workflow(world, open_invoice,
                                                                                               monkeypatch):
    first = open_invoice.invoice_id
    # Given the process died while SES had the message, and that attempt is never retried
    die_once(monkeypatch, world.mailer, "send", after=True)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(first, world, ATTEMPT)
    # When the second invoice's workflow wakes after the claim expired
    world.clock.at = COURTESY_AT + dunning.STEP_CLAIM_TTL + timedelta(minutes=1)
    dunning.run_due_steps(SECOND, world, SECOND_ATTEMPT)
    # Then it does not send its step again: it is logged as unconfirmed, for a person
    assert len(world.mailer.sent) == 1
    assert [m[0] for m in messages(world, SECOND)] == ["contact_unconfirmed"]


def test_ses_refusing_the_message_gives_every_covered_step_back(world, open_invoice, monkeypatch):
    first = open_invoice.invoice_id

    def refuse(*args, **kwargs):
        raise DeliveryRefused("MessageRejected")

    monkeypatch.setattr(world.mailer, "send", refuse)
    # When SES refuses the message
    with pytest.raises(DeliveryRefused):
        dunning.run_due_steps(first, world, ATTEMPT)
    # Then neither step stays claimed: the retry (or the second's own workflow) may send them
    assert phase(world, first) is None and phase(world, SECOND) is None
    monkeypatch.undo()
    dunning.run_due_steps(first, world, ATTEMPT)
    assert len(world.mailer.sent) == 1 and [m[3] for m in messages(world, SECOND)] == [first]


def _referral_book(amounts):
    from datetime import datetime, timezone

    from arrears_local.book import book_invoice

    issued = datetime(2026, 6, 1, 7, tzinfo=timezone.utc)
    return [book_invoice({
        "invoice_id": f"in_ref{index}", "number": f"REF-{index}", "customer_id": "cus_ref", "customer_name": "Acme Ltd",
        "customer_email": "ap@acme.example", "country": "GB", "address_line1": "1 High Street", "postal_code": "AB1 2CD",
        "city": "Town", "currency": "EUR", "amount": amount, "issued_at": issued.isoformat(),
        "due_at": (issued + timedelta(days=30)).isoformat(), "paid_at": ""}) for index, amount in enumerate(amounts)]


def test_invoices_referred_together_go_to_the_agency_as_one_package_each_checked_first(default_policy):
    import io
    import zipfile
    from datetime import datetime, timezone

    from arrears.usecases.simulator import Simulation
    from arrears_local.book import book_updates

    # Given three never-paid invoices of one customer due the same day, one below the referral minimum
    simulation = Simulation(default_policy)
    simulation.add_updates(book_updates(_referral_book([480_000, 125_000, 9_000])))
    # When they are collected to the end
    result = simulation.run(datetime(2027, 1, 31, tzinfo=timezone.utc))
    referrals = [e for log in result.logs.values() for e in log if e.kind == "referral"]
    # Then the two worth referring go as one referral (one package, one task naming both), the small one alone
    carrier = next(e for e in referrals if "covered_by" not in e.details)
    covered = [e for e in referrals if "covered_by" in e.details]
    assert len(referrals) == 2 and [e.details["covered_by"]["invoice_id"] for e in covered] == [carrier.invoice_id]
    tasks = [t for t in simulation.store.tasks.values() if t["kind"] == "hand_over_to_agency"]
    assert len(tasks) == 1 and sorted(tasks[0]["details"]["invoices"]) == ["in_ref0", "in_ref1"]
    package = next(a for a in carrier.artefacts if a.kind == "referral_package")
    names = zipfile.ZipFile(io.BytesIO(simulation.ports.artefacts.get(package.uri))).namelist()
    assert {"invoices/REF-0/invoice.json", "invoices/REF-1/invoice.json"} <= set(names)
    assert not any(name.startswith("invoices/REF-2/") for name in names)
    declined = [e for e in result.logs["in_ref2"] if e.kind == "referral_declined"]
    assert len(declined) == 1 and "covered_by" not in declined[0].details


def test_a_customer_with_one_invoice_gets_byte_identical_messages_with_consolidation_on_or_off(default_policy):
    from datetime import datetime, timezone

    from arrears.usecases.simulator import Simulation
    from arrears_local.book import book_updates

    # Given one customer with one never-paid invoice, collected with consolidation on (v3) and off
    off = default_policy.model_copy(update={"consolidation": default_policy.consolidation.model_copy(update={"enabled": False})})
    runs = {}
    for name, policy in (("on", default_policy), ("off", off)):
        simulation = Simulation(policy)
        simulation.add_updates(book_updates(_referral_book([480_000])))
        result = simulation.run(datetime(2027, 1, 31, tzinfo=timezone.utc))
        runs[name] = ([e.model_dump(mode="json", exclude={"hash", "prev_hash"}) for e in result.logs["in_ref0"]],
                      [raw for _, _, raw in simulation.mailer.sent])
    # Then its log and every message it was sent are the same, byte for byte (nothing to consolidate)
    assert len(runs["on"][1]) >= 6
    assert runs["on"] == runs["off"]
