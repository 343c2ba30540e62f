"""What `arrears demo` prints and writes, read as a person reads it (issue 12)."""

from __future__ import annotations

import email
import email.policy
import re

from typer.testing import CliRunner

from arrears_local.cli import app
from arrears_local.portfolio import sample_portfolio


def test_the_demo_shows_german_and_french_letters_and_the_balance_and_file_id_of_each_invoice(tmp_path):
    # Given the demo's sample book, run far enough for the first demand letters (formal notice at +30 days)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--days", "80"], terminal_width=200)
    assert result.exit_code == 0, result.output
    output = result.output
    book = {item.invoice.number: item for item in sample_portfolio()}

    # Then its letters list names a German and a French letter, each a file in out/letters
    rows = re.findall(r"(NW-2026-\d{4}) +│ [^│]+│ (\w\w) +│ (\w+) +│ (\S+\.pdf)", output)
    assert {language for _, language, _, _ in rows} >= {"de", "fr"}, output
    for number, language, step, path in rows:
        assert (out / path).is_file() and path.startswith("letters/")
        assert book[number].invoice.invoice_id in path
    german = next(path for _, language, _, path in rows if language == "de")
    assert (out / german).read_bytes().startswith(b"%PDF")
    # And the German and French customers' emails are in German and French
    subjects = {}
    for eml in (out / "emails").glob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        subjects.setdefault(message["To"].addresses[0].display_name, []).append(str(message["Subject"]))
    assert all("Rechnung" in s for s in subjects["Müller & Söhne GmbH"]), subjects["Müller & Söhne GmbH"]
    assert all("facture" in s for s in subjects["Atelier Lumière SARL"]), subjects["Atelier Lumière SARL"]

    # And the table shows each invoice's id (the name of its files) under its number, and a paid invoice's
    # balance is nothing, not the amount it was for
    paid_before_due = next(item for item in book.values() if item.behaviour == "pays before due")
    row = re.search(rf"{paid_before_due.invoice.number} +│ [^│]+│ [^│]+│ (\S+) +│", output)
    assert row and row.group(1) == "£0.00", output
    assert paid_before_due.invoice.invoice_id in output
    never_pays = next(item for item in book.values() if item.behaviour == "never pays")
    assert re.search(rf"{never_pays.invoice.number} +│ [^│]+│ [^│]+│ [^│]*[1-9]", output)

    # And the debtors answered (docs/replies.md): one person's reply and one out-of-office are on the timeline, and
    # the reply is written out beside the emails and letters
    assert "reply_received" in output and "auto_reply_received" in output, output
    assert "2 debtor replies (.eml)" in output and len(list((out / "replies").glob("*.eml"))) == 2
