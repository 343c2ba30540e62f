"""When no email reaches the debtor any more: the step's message goes by post (a letter and a task to post it)."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from arrears.domain import dunning
from arrears.domain.hash_chain import entry_to_dict, verify_chain
from arrears.domain.clock import parse_iso
from arrears.domain.models import Address
from arrears.domain.ports import Ports
from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, synthetic_book
from tests.unit.memory_world import memory_ports

BOUNCED_AT_ISSUE = "bounce of 0100019a-5f3c-7d21-9e8b-2c4d6f8a1b3e"
BOOK_START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)


def ports_for(policy, invoice, customer) -> Ports:
    return memory_ports(policy, customer, invoice, letters_bucket="arrears-letters")


@pytest.fixture
def german_customer(berlin_customer):
    """Müller & Söhne in Berlin, writing in German, whose billing address bounced for good; no escalation contact."""
    return berlin_customer.model_copy(update={"language": "de"})


def bounce_then_run_until(ports: Ports, invoice, customer, at) -> None:
    ports.store.mark_undeliverable(customer.customer_id, customer.email, BOUNCED_AT_ISSUE, invoice.issued_at)
    dunning.start_collection(invoice.invoice_id, None, "default", ports)
    ports.clock.at = at
    dunning.run_due_steps(invoice.invoice_id, ports)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_next_reminder_goes_by_post_in_the_debtors_language_with_a_task_to_post_it(default_policy, open_invoice,
                                                                                       german_customer):
    # Given a German debtor whose only email address bounced for good, with a complete postal address
    ports = ports_for(default_policy, open_invoice, german_customer)
    # When the courtesy reminder is due
    bounce_then_run_until(ports, open_invoice, german_customer, open_invoice.due_at - timedelta(days=6))
    # Then no email is sent; the contact is a letter, by post, to the postal address
    assert ports.mailer.sent == []
    entry = ports.log.entries(open_invoice.invoice_id)[-1]
    assert (entry.kind, entry.channel, entry.step_id) == ("letter", "letter", "courtesy_reminder")
    assert entry.recipient == "Müller & Söhne GmbH, Friedrichstraße 123, 10117 Berlin, Germany"
    assert entry.details["delivery"] == "post" and entry.details["balance"] == 125_000
    # And the letter is stored with the letters and says the email's message in German, dated and addressed
    (letter,) = entry.artefacts
    assert letter.kind == "letter" and letter.uri == f"s3://arrears-letters/letters/{open_invoice.invoice_id}/courtesy_reminder.pdf"
    text = pdf_text(ports.artefacts.get(letter.uri))
    assert "Sehr geehrte Damen und Herren" in text and "Friedrichstraße 123" in text and "10117 Berlin" in text
    assert "Datum 25. September 2026" in text and "Fällig am 1. Oktober 2026" in text
    assert "1.250,00 €" in text and "Zeichen NW-2026-0042" in text and "/courtesy_reminder" not in text
    assert "auf dem Postweg" in text and german_customer.email in text
    # And a person has a task to print and post it, naming the letter and the address
    (task,) = [t for t in ports.store.tasks.values() if t["kind"] == "post_letter"]
    assert task["task_id"] == entry.details["task_id"]
    assert task["details"]["letter"] == letter.uri and task["details"]["sha256"] == letter.sha256
    assert task["details"]["postal_address"] == ["Müller & Söhne GmbH", "Friedrichstraße 123", "10117 Berlin", "Germany"]


def test_the_log_entry_carries_the_letter_so_the_audit_trail_can_prove_what_was_posted(default_policy, open_invoice,
                                                                                       german_customer):
    # Given the courtesy reminder went by post
    ports = ports_for(default_policy, open_invoice, german_customer)
    bounce_then_run_until(ports, open_invoice, german_customer, open_invoice.due_at - timedelta(days=6))
    entries = ports.log.entries(open_invoice.invoice_id)
    # Then its entry names the letter by the SHA-256 of the stored bytes, and the chain over it holds
    (letter,) = entries[-1].artefacts
    assert letter.sha256 == hashlib.sha256(ports.artefacts.get(letter.uri)).hexdigest()
    assert verify_chain([entry_to_dict(e) for e in entries]) == []


def test_with_the_policy_set_to_task_the_contact_stays_blocked(default_policy, open_invoice, german_customer):
    # Given a policy that wants a person to fix the debtor's data rather than post letters
    policy = default_policy.model_copy(update={"undeliverable": default_policy.undeliverable.model_copy(update={"fallback": "task"})})
    ports = ports_for(policy, open_invoice, german_customer)
    # When the courtesy reminder is due
    bounce_then_run_until(ports, open_invoice, german_customer, open_invoice.due_at - timedelta(days=6))
    # Then it is blocked with a task, as before: no email, no letter
    entry = ports.log.entries(open_invoice.invoice_id)[-1]
    assert entry.kind == "contact_blocked" and "the policy sends no letter instead" in entry.details["missing"]
    assert ports.mailer.sent == [] and ports.artefacts.objects == {}
    assert [t["kind"] for t in ports.store.tasks.values()] == ["complete_debtor_data"]


def test_without_a_complete_postal_address_the_contact_stays_blocked(default_policy, open_invoice, german_customer):
    # Given the debtor's postal address has no street
    customer = german_customer.model_copy(update={"address": Address(city="Berlin", postal_code="10117", country="DE")})
    ports = ports_for(default_policy, open_invoice, customer)
    # When the courtesy reminder is due
    bounce_then_run_until(ports, open_invoice, customer, open_invoice.due_at - timedelta(days=6))
    # Then it is blocked with a task saying why no letter went either
    entry = ports.log.entries(open_invoice.invoice_id)[-1]
    assert entry.kind == "contact_blocked" and "postal address is incomplete" in entry.details["missing"]
    assert ports.artefacts.objects == {} and [t["kind"] for t in ports.store.tasks.values()] == ["complete_debtor_data"]


def test_an_escalation_contact_that_still_reaches_them_gets_the_email_not_a_letter(default_policy, open_invoice,
                                                                                    german_customer):
    # Given the billing address bounced but the escalation contact works
    customer = german_customer.model_copy(update={"escalation_email": "finanzen@mueller-soehne.example"})
    ports = ports_for(default_policy, open_invoice, customer)
    # When the courtesy reminder is due
    bounce_then_run_until(ports, open_invoice, customer, open_invoice.due_at - timedelta(days=6))
    # Then it is an email to the escalation contact, and nothing is posted
    assert [recipients for _, recipients, _ in ports.mailer.sent] == [["finanzen@mueller-soehne.example"]]
    assert not [t for t in ports.store.tasks.values() if t["kind"] == "post_letter"]


def test_a_formal_notice_whose_cover_email_cannot_be_delivered_posts_its_demand_letter(default_policy, open_invoice,
                                                                                      german_customer):
    # Given the debtor's email bounced and the collection reached the formal notice (a letter step at +30)
    ports = ports_for(default_policy, open_invoice, german_customer)
    ports.store.mark_undeliverable(german_customer.customer_id, german_customer.email, BOUNCED_AT_ISSUE, open_invoice.issued_at)
    decision = dunning.start_collection(open_invoice.invoice_id, None, "default", ports)
    while decision.step_id != "final_notice":
        ports.clock.at = parse_iso(decision.next_at)
        decision = dunning.run_due_steps(open_invoice.invoice_id, ports)
    # Then the formal notice is its demand letter, posted: no cover email, and a task to post that very letter
    entry = next(e for e in ports.log.entries(open_invoice.invoice_id) if e.step_id == "formal_notice")
    assert (entry.kind, entry.channel, entry.details["delivery"]) == ("letter", "letter", "post")
    (letter,) = entry.artefacts
    assert letter.uri.endswith("/formal_notice.pdf")
    assert "Mahnung und Zahlungsaufforderung" in pdf_text(ports.artefacts.get(letter.uri))
    posted = [t["details"]["letter"] for t in ports.store.tasks.values() if t["kind"] == "post_letter"]
    assert letter.uri in posted and ports.mailer.sent == []
    # And every email step before it went by post too, each with its own letter
    assert [e.step_id for e in ports.log.entries(open_invoice.invoice_id) if e.kind == "letter"] == [
        "courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "formal_notice"]
    assert len(posted) == 5


def test_a_retried_step_posts_nothing_twice(default_policy, open_invoice, german_customer):
    # Given the courtesy reminder went by post, and the invoice as a retry would read it before its progress was saved
    ports = ports_for(default_policy, open_invoice, german_customer)
    bounce_then_run_until(ports, open_invoice, german_customer, open_invoice.due_at - timedelta(days=6))
    before = ports.store.invoices[open_invoice.invoice_id].model_copy(update={"completed_steps": ()})
    ports.store.invoices[open_invoice.invoice_id] = before
    # When the step runs again at the same moment
    dunning.run_due_steps(open_invoice.invoice_id, ports)
    # Then the step's claim stops it: still one letter entry and one task to post it
    assert [e.kind for e in ports.log.entries(open_invoice.invoice_id)].count("letter") == 1
    assert [t["kind"] for t in ports.store.tasks.values()].count("post_letter") == 1


def test_a_plan_only_dry_run_records_the_same_postal_contacts_without_rendering(default_policy):
    # Given a book in which one debtor's email bounced when its invoice opened
    book = synthetic_book(3, BOOK_START)
    bounced = book[0].customer
    updates = book_updates(book)
    until = BOOK_START + timedelta(days=120)

    def run(render: bool):
        simulation = Simulation(default_policy, render=render)
        simulation.add_updates(updates)
        simulation.add_action(book[0].invoice.issued_at, lambda sim: sim.store.mark_undeliverable(
            bounced.customer_id, bounced.email, BOUNCED_AT_ISSUE, sim.clock.at))
        return simulation, simulation.run(until)

    # When it is simulated with full rendering and plan only
    full_sim, full = run(render=True)
    plan_sim, plan = run(render=False)
    # Then both post the same letters at the same moments, and only the full run made PDFs
    posted = [e for e in full.logs[book[0].invoice.invoice_id] if e.details.get("delivery") == "post"]
    assert len(posted) >= 5 and all(e.kind == "letter" for e in posted)
    for invoice_id, entries in full.logs.items():
        assert [_planned(e) for e in plan.logs[invoice_id]] == [_planned(e) for e in entries], invoice_id
    assert all(a.sha256 == "" for e in plan.logs[book[0].invoice.invoice_id] for a in e.artefacts)
    assert {t["task_id"] for t in plan_sim.store.tasks.values()} == {t["task_id"] for t in full_sim.store.tasks.values()}
    # And the other debtors got their emails
    assert full.emails_sent == plan.emails_sent > 0


def _planned(entry) -> dict:
    data = entry.model_dump(mode="json", exclude={"hash", "prev_hash", "subject"})
    data["artefacts"] = [{k: v for k, v in a.items() if k != "sha256"} for a in data["artefacts"]]
    return data


def test_the_policy_says_letter_or_task_and_nothing_else(root):
    import yaml
    from pydantic import ValidationError

    from arrears.domain.policy import parse_policy_yaml

    # Given the default policy without a word on undeliverable email
    data = yaml.safe_load((root / "policies" / "default.yaml").read_text())
    data.pop("undeliverable", None)
    # Then it posts letters; a policy may ask for a task instead, and nothing else
    assert parse_policy_yaml(yaml.safe_dump(data)).undeliverable.fallback == "letter"
    assert parse_policy_yaml(yaml.safe_dump({**data, "undeliverable": {"fallback": "task"}})).undeliverable.fallback == "task"
    with pytest.raises(ValidationError, match="fallback"):
        parse_policy_yaml(yaml.safe_dump({**data, "undeliverable": {"fallback": "fax"}}))
