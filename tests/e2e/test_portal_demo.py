"""`arrears demo` prints one customer's portal link, and its emails and letters carry the links (issue 16)."""

from __future__ import annotations

import email
import email.policy
import io
import re

from pypdf import PdfReader
from typer.testing import CliRunner

from arrears.domain.portal_links import read_link
from arrears_local.cli import app
from arrears_local.demo import DEMO_PORTAL_URL
from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import LOCAL_PORTAL_SECRET

# /portal/<customer>.<expires>.<generation>.<mac: 128 bits, 22 characters> (docs/portal.md)
LINK = re.compile(re.escape(DEMO_PORTAL_URL) + r"/portal/([A-Za-z0-9_-]+\.\d+\.\d+\.[A-Za-z0-9_-]{22})")


def test_the_demo_prints_a_portal_link_and_its_messages_carry_theirs(tmp_path):
    # Given the demo run far enough for the first letters
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--invoices", "8", "--days", "70"], terminal_width=200)
    assert result.exit_code == 0, result.output
    customers = {item.invoice.customer.customer_id: item.invoice.customer for item in sample_portfolio(count=8)}
    # Then it prints one customer's link, signed by the local stack's key, naming that customer
    printed = LINK.search(result.output)
    assert printed, result.output
    link = read_link(printed.group(1), [LOCAL_PORTAL_SECRET])
    assert link is not None and customers[link.customer_id].name in result.output
    # And every email to a debtor carries a link that opens, for the customer it was sent to
    emails = sorted((out / "emails").glob("*.eml"))
    assert emails
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        found = LINK.search(text)
        assert found, f"{path.name} carries no portal link"
        opened = read_link(found.group(1), [LOCAL_PORTAL_SECRET])
        assert opened is not None and customers[opened.customer_id].email in str(message["To"])
    # And every letter prints its link in full, on one line (a short URL a person can type)
    letters = sorted((out / "letters").glob("*.pdf"))
    assert letters
    for path in letters:
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)
        found = LINK.search(text)
        assert found and len(found.group(0)) < 100, path.name
        assert read_link(found.group(1), [LOCAL_PORTAL_SECRET]) is not None
