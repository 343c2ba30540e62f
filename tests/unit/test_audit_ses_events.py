"""SES delivery, bounce and complaint notifications: parsed as SES sends them, appended once to the right log."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from arrears.domain.ses_events import (
    MessageNotYetLogged,
    MessageRef,
    parse_ses_notification,
    record_ses_event,
    ses_notification,
)
from arrears.domain.clock import FixedClock
from arrears.adapters.memory import MemoryEventClaims, MemoryStore

MESSAGE_ID = "0100019a8f3c2b1d-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9-000000"
SENT_AT = datetime(2026, 10, 31, 9, 0, 4, tzinfo=timezone.utc)
HEADERS = {"From": "Northwind Analytics <collections@northwind.example>", "To": "buchhaltung@mueller-soehne.example",
           "Subject": "Formal notice: invoice NW-2026-0042", "X-Arrears-Reference": "NW-2026-0042/formal_notice"}


def notification(event_type: str, headers: dict[str, str] | None = HEADERS, **options) -> dict:
    return ses_notification(event_type, MESSAGE_ID, SENT_AT, "collections@northwind.example",
                            ["buchhaltung@mueller-soehne.example"], headers, configuration_set="arrears-emails", **options)


class FakeIndex(MemoryEventClaims):
    def __init__(self, known: dict[str, MessageRef]) -> None:
        self.known = known
        super().__init__()

    def find(self, message_id: str) -> MessageRef | None:
        return self.known.get(message_id)


def sent_email_index() -> FakeIndex:
    return FakeIndex({MESSAGE_ID: MessageRef("in_1QAbCdEfGhIjKlMn", "cus_QhK2pT5wQm7Yz2", "formal_notice")})


def test_a_permanent_bounce_is_parsed_with_who_bounced_and_why():
    event = parse_ses_notification(notification("Bounce"))
    assert event is not None and event.kind == "email_bounced" and event.message_id == MESSAGE_ID
    assert event.recipients == ("buchhaltung@mueller-soehne.example",) and event.ours
    assert event.details["bounce_type"] == "Permanent" and event.details["reference"] == "NW-2026-0042/formal_notice"
    assert event.details["recipients"][0] == {"email": "buchhaltung@mueller-soehne.example", "action": "failed",
                                              "status": "5.1.1", "diagnostic_code": "smtp; 550 5.1.1 user unknown"}


def test_deliveries_complaints_and_classic_notifications_are_parsed_and_other_events_ignored():
    assert parse_ses_notification(notification("Delivery")).kind == "email_delivered"
    complaint = parse_ses_notification(notification("Complaint"))
    assert complaint.kind == "email_complained" and complaint.details["feedback_type"] == "abuse"
    classic = notification("Bounce")
    classic["notificationType"] = classic.pop("eventType")  # identity notifications name the type this way
    assert parse_ses_notification(classic).kind == "email_bounced"
    assert parse_ses_notification({"eventType": "Open", "mail": {"messageId": MESSAGE_ID}}) is None
    assert parse_ses_notification({"eventType": "Bounce"}) is None


def test_a_bounce_lands_once_in_the_log_of_the_invoice_it_concerns_even_if_delivered_twice():
    store, index, clock = MemoryStore(), sent_email_index(), FixedClock(datetime(2026, 10, 31, 9, 2, tzinfo=timezone.utc))
    event = parse_ses_notification(notification("Bounce"))
    assert record_ses_event(event, index, store, clock) == "recorded"
    assert record_ses_event(parse_ses_notification(notification("Bounce")), index, store, clock) == "duplicate"
    (entry,) = store.entries("in_1QAbCdEfGhIjKlMn")
    assert (entry.kind, entry.actor, entry.channel, entry.step_id) == ("email_bounced", "amazon-ses", "email", "formal_notice")
    assert entry.message_id == MESSAGE_ID and entry.recipient == "buchhaltung@mueller-soehne.example"
    assert entry.at == clock.now() and entry.details["occurred_at"] == "2026-10-31T09:00:04.000Z"


def test_a_delivery_and_a_later_bounce_of_the_same_message_are_both_recorded():
    store, index, clock = MemoryStore(), sent_email_index(), FixedClock(datetime(2026, 10, 31, 9, 5, tzinfo=timezone.utc))
    assert record_ses_event(parse_ses_notification(notification("Delivery")), index, store, clock) == "recorded"
    assert record_ses_event(parse_ses_notification(notification("Complaint")), index, store, clock) == "recorded"
    assert [e.kind for e in store.entries("in_1QAbCdEfGhIjKlMn")] == ["email_delivered", "email_complained"]


def test_an_email_arrears_did_not_send_is_ignored_but_one_not_yet_logged_is_retried():
    store, clock = MemoryStore(), FixedClock(SENT_AT)
    foreign = parse_ses_notification(notification("Delivery", headers={"Subject": "Newsletter"}))
    assert record_ses_event(foreign, FakeIndex({}), store, clock) == "unknown_message"
    with pytest.raises(MessageNotYetLogged):
        record_ses_event(parse_ses_notification(notification("Delivery")), FakeIndex({}), store, clock)
    assert store.logs == {}


def test_a_failed_append_gives_the_claim_back_so_the_retry_records_it():
    class FlakyLog(MemoryStore):
        failures = 1

        def append(self, *args, **kwargs):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("DynamoDB throttled")
            return super().append(*args, **kwargs)

    log, index, clock = FlakyLog(), sent_email_index(), FixedClock(SENT_AT)
    event = parse_ses_notification(notification("Bounce"))
    with pytest.raises(ConnectionError):
        record_ses_event(event, index, log, clock)
    assert record_ses_event(event, index, log, clock) == "recorded"
    assert len(log.entries("in_1QAbCdEfGhIjKlMn")) == 1
