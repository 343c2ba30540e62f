"""`arrears serve`'s local stand-ins for what AWS does outside the API, over real HTTP.

Given the local runtime on 127.0.0.1 with a virtual clock on 1 Sep 2026 (months away from the real
now), a newcomer imports an export into it with `arrears import FILE --url`, lets six weeks pass,
downloads the emails and the demand letter it sent with plain HTTP, makes SES report a bounce, and
posts a generic-feed event with docs/sign_generic_event.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

import pytest
from typer.testing import CliRunner

from arrears_local.cli import app
from arrears_local.local_routes import wall_now
from arrears_local.runtime import LOCAL_GENERIC_SECRET, LocalRuntime, project_root
from arrears_local.serve import LocalServer
from tests.e2e.serving import serving

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
HEADER = ("id,number,status,currency,amount_due,amount_paid,issued_at,due_at,description,customer_id,customer_name,"
          "customer_email,address_line1,postal_code,city,country\n")
ROW = ("INV-5001,5001,open,EUR,1250000,0,2026-08-14T09:00:00+02:00,2026-09-13T09:00:00+02:00,Consulting August,"
       "C-5001,Van Dijk Consultancy B.V.,crediteuren@vandijk.example,Herengracht 280,1016 BX,Amsterdam,NL\n")


@pytest.fixture(scope="module")
def base_url():
    with LocalRuntime(start=START) as runtime, serving(LocalServer(runtime, clock="virtual")) as url:
        yield url


def fetch(url: str, method: str = "GET", body: bytes | dict | None = None) -> tuple[int, Any, bytes]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def answer(url: str, method: str = "GET", body: bytes | dict | None = None) -> tuple[int, dict]:
    status, _, content = fetch(url, method, body)
    return status, json.loads(content)


@pytest.fixture(scope="module")
def collected(base_url, tmp_path_factory):
    """An invoice imported into the running serve, then 45 days of collection (reminders, demand letter)."""
    path = tmp_path_factory.mktemp("import") / "invoices-2026-08.csv"
    path.write_text(HEADER + ROW, encoding="utf-8")
    imported = CliRunner().invoke(app, ["import", str(path), "--url", base_url], env={"COLUMNS": "200"})
    assert answer(base_url + "/_local/clock/advance", "POST", {"days": 45})[0] == 200
    status, detail = answer(base_url + "/invoices/INV-5001")
    assert status == 200, detail
    return imported, detail


def test_import_url_loads_the_file_into_the_running_serve(collected):
    imported, detail = collected
    # Then the CLI reports the import, and the server collects the invoice from its own clock
    assert imported.exit_code == 0, imported.output + repr(imported.exception)
    assert "1 invoice(s) imported into http://127.0.0.1:" in imported.output and "1 started" in imported.output
    assert detail["invoice"]["invoice_id"] == "INV-5001"
    assert [e["step_id"] for e in detail["timeline"] if e["kind"] == "email"][:2] == ["courtesy_reminder", "due_notice"]


def test_import_url_with_a_bad_row_names_its_columns_and_imports_nothing(base_url, tmp_path):
    # Given a file whose only row has a decimal amount and a country written out
    path = tmp_path / "invoices.csv"
    bad = ROW.replace("INV-5001,5001", "INV-5002,5002").replace("1250000", "12500.00").replace(",NL", ",Netherlands")
    path.write_text(HEADER + bad, encoding="utf-8")
    # When it is imported into the running serve (skipping the CLI's own check, as a stale client would)
    status, refused = answer(f"{base_url}/_local/import?name=invoices.csv", "POST", path.read_bytes())
    # Then the server refuses it whole, naming the file's own columns, and the invoice does not exist
    assert status == 422 and refused["error"] == "invalid_rows"
    assert {(p["row"], p["field"]) for p in refused["problems"]} == {(2, "amount_due"), (2, "country")}
    assert answer(base_url + "/invoices/INV-5002")[0] == 404
    # And the CLI says the same before sending anything
    result = CliRunner().invoke(app, ["import", str(path), "--url", base_url], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "row 2: country:" in result.output


def test_the_emails_and_letter_it_sent_download_from_serve_itself(base_url, collected):
    _, detail = collected
    links = [a for e in detail["timeline"] for a in e["artefacts"]]
    # Given the invoice's timeline: emails and the formal notice's demand letter, each with a link
    assert {a["kind"] for a in links} >= {"email", "letter"}
    for link in links:
        # Then each link points at this server, not at S3, and downloads the very bytes the log hashed
        assert link["download_url"].startswith(base_url + "/_local/artefacts/"), link
        status, headers, content = fetch(link["download_url"])
        assert status == 200 and hashlib.sha256(content).hexdigest() == link["sha256"]
        if link["kind"] == "letter":
            assert content.startswith(b"%PDF") and headers["Content-Type"] == "application/pdf"
        if link["kind"] == "email":
            assert b"X-Arrears-Reference: 5001/" in content and headers["Content-Type"] == "message/rfc822"


@pytest.mark.parametrize("path", ["/_local/artefacts/arrears-local-auditbucket/anything.json",
                                  "/_local/artefacts/arrears-local-lettersbucket/letters/INV-5001/nope.pdf"])
def test_an_artefact_link_to_nothing_is_a_json_404(base_url, path):
    status, refused = answer(base_url + path)
    assert status == 404 and refused["error"] == "unknown_artefact"


def test_an_ses_bounce_posted_to_serve_reaches_the_contact_log(base_url, collected):
    # Given the invoice's due-date notice, listed among what SES sent
    status, sent = answer(base_url + "/_local/emails")
    assert status == 200 and any(m["reference"] == "5001/due_notice" for m in sent["emails"])
    # When SES reports that it bounced, named by invoice and step
    status, reported = answer(base_url + "/_local/ses-events", "POST",
                              {"invoice_id": "INV-5001", "step_id": "due_notice", "event": "Bounce"})
    assert status == 200 and reported["event"] == "Bounce", reported
    # Then the real ses_events function has logged it against that email
    detail = answer(base_url + "/invoices/INV-5001")[1]
    notice = next(e for e in detail["timeline"] if e["kind"] == "email" and e["step_id"] == "due_notice")
    assert notice["delivery"] == "bounced"
    assert any(e["kind"] == "email_bounced" for e in detail["timeline"])
    # And a delivery named by its SES message id is recorded too
    courtesy = next(m for m in sent["emails"] if m["reference"] == "5001/courtesy_reminder")
    assert answer(base_url + "/_local/ses-events", "POST", {"message_id": courtesy["message_id"], "event": "Delivery"})[0] == 200
    detail = answer(base_url + "/invoices/INV-5001")[1]
    assert next(e for e in detail["timeline"] if e["step_id"] == "courtesy_reminder")["delivery"] == "delivered"


@pytest.mark.parametrize("body, status, error", [
    (b"{not json", 400, "invalid_json"),
    ({"message_id": "nope", "event": "Opened"}, 422, "invalid_request"),
    ({"message_id": "nope", "event": "Bounce", "bounce_type": "Soft"}, 422, "invalid_request"),
    ({"event": "Bounce"}, 422, "invalid_request"),
    ({"message_id": "no-such-message", "event": "Bounce"}, 404, "unknown_message"),
    ({"invoice_id": "INV-5001", "step_id": "referral", "event": "Complaint"}, 404, "unknown_message"),
])
def test_a_wrong_ses_event_is_a_4xx_and_changes_nothing(base_url, collected, body, status, error):
    before = answer(base_url + "/invoices/INV-5001")[1]["timeline"]
    got, refused = answer(base_url + "/_local/ses-events", "POST", body)
    assert (got, refused["error"]) == (status, error) and refused["message"]
    assert answer(base_url + "/invoices/INV-5001")[1]["timeline"] == before


def test_the_documented_signing_script_works_against_a_virtual_clock(base_url):
    # Given serve's clock months away from the real time the script runs at
    served_now = datetime.fromisoformat(answer(base_url + "/_local/clock")[1]["now"])
    assert abs((wall_now() - served_now).days) > 1
    root = project_root()
    # When docs/sign_generic_event.py posts the documented example event, in its own process (real time)
    done = subprocess.run([sys.executable, str(root / "docs" / "sign_generic_event.py"), base_url + "/webhooks/generic",
                           str(root / "docs" / "generic_event.json")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ARREARS_WEBHOOK_SECRET": LOCAL_GENERIC_SECRET})
    # Then the delivery is accepted and the invoice is known
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("200 ") and json.loads(done.stdout[4:])["received"] is True
    assert answer(base_url + "/invoices/INV-24031")[0] == 200


def test_a_raw_reply_posted_to_serve_reaches_the_timeline_with_a_task(base_url, collected):
    # Given the imported invoice's debtor answering its last reminder, in Latin-1 (any charset is accepted)
    emails = [e for e in answer(base_url + "/_local/emails")[1]["emails"] if "5001" in (e["reference"] or "")]
    raw = ("From: Crediteuren <crediteuren@vandijk.example>\r\nTo: accounts@northwind.example\r\n"
           "Subject: Re: herinnering\r\n"
           f"In-Reply-To: <{emails[-1]['message_id']}@us-east-1.amazonses.com>\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Wij hebben de factuur betaald, zie bijlage. Groet, Björn\r\n").encode("latin-1")
    # When it is posted to serve as SES would store it
    status, stored = answer(base_url + "/_local/inbound-email", "POST", raw)
    # Then the inbound function matched it to its thread, logged it and opened a task
    assert status == 202 and stored["stored"].startswith("messages/")
    timeline = answer(base_url + "/invoices/INV-5001")[1]["timeline"]
    reply = next(e for e in timeline if e["kind"] == "reply_received")
    assert reply["details"]["matched_by"] == "in_reply_to" and "Björn" in reply["details"]["text"]
    assert any(t["kind"] == "read_reply" and t["invoice_id"] == "INV-5001" for t in answer(base_url + "/tasks")[1]["tasks"])
    # And an empty body is refused, changing nothing
    assert answer(base_url + "/_local/inbound-email", "POST", b"")[0] == 422
