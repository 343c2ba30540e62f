"""Hostile customer records end to end: Stripe webhooks -> the real ASL on moto -> SES and S3 (the real adapters).

The pilot saw 17 of 49 such invoices end in `workflow_failed`, never chased again. Here every one runs
its whole policy: each step sent (to a usable address, with safe headers and attachment names), or
sent by post, or blocked with a task for a person.
"""

from __future__ import annotations

import re
from dataclasses import replace
from email import message_from_bytes
from email import policy as email_policy
from email.utils import parseaddr
from pathlib import Path

import pytest

from arrears.domain.debtor_data import email_problem
from arrears.domain.policy import load_policy_file
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
DAYS = 130

# (name, email, address line, invoice number): what billing platforms were seen to send
HOSTILE = [
    ("Brightwater\r\nBcc: everyone@rival.example", "ap@brightwater-logistics.example\r\nBcc: x@rival.example",
     "44 Canal\x00 Street", "NW-2026\r\n-1040"),
    ("Müller & Söhne\x1b[31m GmbH", "Buchhaltung <buchhaltung@mueller-soehne.example>", "Friedrichstraße\u2028123",
     "../../etc/passwd"),
    ("Atelier \u202eLumière SARL", "compta@atelier-lumiere.example, dg@atelier-lumiere.example", "18 rue\tde la Paix",
     "NW\x00-1042"),
    ("Cobalt\x00Robotics", "payables@localhost", "500 Howard\x7f Street", "NW-2026-1043\x0c"),
    ("Van Dijk\x00\r\nConsultancy B.V.", "crediteuren@vandijk.example", "\x01Herengracht 280", "\u0085NW-1044"),
]


@pytest.fixture(scope="module")
def run():
    portfolio = []
    for item, (name, email, line1, number) in zip(sample_portfolio(DEMO_START, 10)[:len(HOSTILE)], HOSTILE, strict=True):
        customer = replace(item.invoice.customer, name=name, email=email, line1=line1)
        portfolio.append(replace(item, invoice=replace(item.invoice, number=number, customer=customer),
                                 behaviour="never pays", settle_days=None, settle_event=None))
    with LocalRuntime(start=DEMO_START) as runtime:
        book = run_book(runtime, portfolio, POLICY, DAYS)
        sfn = runtime.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]
        yield book, executions, runtime.sent_emails()


def test_no_hostile_record_fails_its_workflow(run):
    book, executions, _ = run
    # Every invoice's execution ran (webhook accepted) and none failed
    assert len(executions) == len(HOSTILE)
    assert {e["status"] for e in executions} <= {"RUNNING", "SUCCEEDED"}
    for invoice_id, log in book.logs.items():
        kinds = [e.kind for e in log]
        assert "workflow_failed" not in kinds, invoice_id
        # And it got as far as the final notice: each step sent (by email or post) or blocked with a task
        done = {e.step_id for e in log if e.kind in ("email", "letter", "call_task", "contact_blocked")}
        assert {"courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "formal_notice", "final_notice"} <= done, kinds


def test_unusable_addresses_are_never_mailed_and_each_is_a_task(run):
    book, _, sent = run
    recipients = [parseaddr(address)[1] for message in sent for address in message.destinations]
    # SES only ever got usable addresses: the last customer's valid one (and the agency's), no other
    assert set(recipients) == {"crediteuren@vandijk.example", POLICY.referral.agency.email}
    assert all(email_problem(r) is None for r in recipients)
    for item_log in list(book.logs.values())[:4]:
        unusable = [e for e in item_log if e.kind == "debtor_data_unusable"]
        assert len(unusable) == 1 and unusable[0].details["task_id"]
        # The complete postal address takes the messages instead
        assert any(e.kind == "letter" and e.details.get("delivery") == "post" for e in item_log)


def test_what_was_mailed_has_one_line_headers_and_a_safe_attachment_name(run):
    _, _, sent = run
    for raw in sent:
        message = _parsed(raw)
        assert message["Bcc"] is None and len(message["To"].addresses) == 1
        assert all("\r" not in str(v) and "\n" not in str(v) and "\x00" not in str(v) for v in message.values())
        # Attachments are named from the invoice number with only safe characters left
        for part in message.iter_attachments():
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(pdf|zip)", part.get_filename()), part.get_filename()
    names = {part.get_filename() for raw in sent for part in _parsed(raw).iter_attachments()}
    assert {"NW-1044-formal-notice.pdf", "NW-2026_-1040-referral-package.zip", "etc_passwd-referral-package.zip"} <= names


def _parsed(raw):
    return message_from_bytes(raw.raw_data.encode() if isinstance(raw.raw_data, str) else raw.raw_data,
                              policy=email_policy.default)
