"""The debtor's portal over the template's public routes (no browser): links, CSRF, ids, hostile input, the story.

Given Brightwater Logistics' three open invoices and Müller & Söhne's one, reminders sent, and each debtor's
signed link, requests go through API Gateway's proxy event to the real portal function, as its own IAM role.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from markupsafe import escape

from arrears.adapters.dynamo import DynamoStore
from arrears.domain.policy import load_policy_file
from arrears.domain.portal_links import read_link, sign_link
from arrears.rendering.policy_document import policy_document
from arrears_local.portal import portal_link
from arrears_local.runtime import LOCAL_PORTAL_SECRET, LocalRuntime
from arrears_local.portfolio import DEMO_START
from tests.e2e.portal_book import BRIGHTWATER, FORM, HOST, INVOICES, MUELLER, csrf_of, link_in, open_book

ORIGIN = {"Host": HOST, "Origin": f"http://{HOST}"}
DISPUTED, PROMISED, PLANNED, FOREIGN = INVOICES


@pytest.fixture(scope="module")
def portal():
    with LocalRuntime(start=DEMO_START, iam=True) as runtime:
        open_book(runtime)
        statuses: list[int] = []

        def get(path: str, headers: dict | None = None):
            reply = runtime.request("GET", path, b"", {"Host": HOST, **(headers or {})})
            statuses.append(reply.status_code)
            return reply

        def post(path: str, fields: dict, headers: dict | None = None):
            reply = runtime.request("POST", path, urlencode(fields).encode(), {**FORM, **ORIGIN, **(headers or {})})
            statuses.append(reply.status_code)
            return reply

        yield runtime, get, post, statuses


def _path(runtime, customer) -> str:
    return portal_link(runtime, customer.customer_id, "")


def test_a_link_opens_the_statement_with_the_right_balance_and_strict_headers(portal):
    runtime, get, _, _ = portal
    # When Brightwater's AP clerk opens their link (twice the same day)
    page = get(_path(runtime, BRIGHTWATER))
    get(_path(runtime, BRIGHTWATER))
    # Then the statement shows their three invoices and the total, and nothing of another customer
    assert page.status_code == 200 and "£1,980.00" in page.body
    assert all(i.number in page.body for i in (DISPUTED, PROMISED, PLANNED)) and FOREIGN.number not in page.body
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'sha256-")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.body
    # And the finance team sees one "statement viewed" a day in each open invoice's timeline
    viewed = [e for e in DynamoStore(runtime.table_name).entries(DISPUTED.invoice_id) if e.kind == "statement_viewed"]
    assert len(viewed) == 1 and viewed[0].actor == "debtor via portal (link generation 1)"


def test_a_german_debtor_reads_german(portal):
    runtime, get, _, _ = portal
    page = get(_path(runtime, MUELLER))
    assert page.status_code == 200 and 'lang="de"' in page.body and "Offener Saldo" in page.body and "990,00" in page.body


@pytest.mark.parametrize("customer, language", [(BRIGHTWATER, "en"), (MUELLER, "de")])
def test_the_statement_links_the_collections_policy_in_the_debtors_language(portal, customer, language):
    runtime, get, _, _ = portal
    expected = policy_document(load_policy_file(runtime.root / "policies" / "default.yaml"), "customer", language)
    # Given the debtor's statement, which links the policy page
    link = _path(runtime, customer)
    assert f'{link.rpartition("/")[2]}/policy"' in get(link).body
    # When they open it
    page = get(f"{link}/policy")
    # Then it is the customer version of the policy they are under, in their language, under the portal's headers
    assert page.status_code == 200 and f'lang="{language}"' in page.body
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'sha256-")
    assert f"<h1>{escape(expected.title)}</h1>" in page.body
    assert all(f">{escape(section.heading)}</h2>" in page.body for section in expected.sections)
    assert all(f"<p>{escape(text)}</p>" in page.body for section in expected.sections for text in section.paragraphs)


def test_tampered_expired_and_foreign_secret_links_show_no_data(portal):
    runtime, get, _, _ = portal
    good = _path(runtime, BRIGHTWATER)
    token = good.rpartition("/")[2]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    expired = sign_link(BRIGHTWATER.customer_id, 1, runtime.now() - timedelta(seconds=1), [LOCAL_PORTAL_SECRET])
    forged = sign_link(BRIGHTWATER.customer_id, 1, runtime.now() + timedelta(days=5), ["not-our-secret"])
    other_customer = token.replace(token.split(".")[0], sign_link(MUELLER.customer_id, 1, runtime.now(), ["x"]).split(".")[0])
    for bad in (tampered, expired, forged, other_customer, "x" * 5000, "%00", "%3Cscript%3E"):
        page = get(f"/portal/{bad}")
        assert page.status_code == 403, bad
        assert "Brightwater" not in page.body and "£" not in page.body and "Send me a fresh link" in page.body
        assert get(f"/portal/{bad}/invoices/{DISPUTED.invoice_id}").status_code == 403
        assert get(f"/portal/{bad}/policy").status_code == 403 and get(f"/portal/{bad}/statement").status_code == 403


def test_one_customers_link_never_shows_another_customers_invoice(portal):
    runtime, get, post, _ = portal
    path = _path(runtime, BRIGHTWATER)
    page = get(f"{path}/invoices/{FOREIGN.invoice_id}")
    assert page.status_code == 404 and FOREIGN.number not in page.body and "Müller" not in page.body
    assert get(f"{path}/invoices/{FOREIGN.invoice_id}/documents/1-0").status_code == 404
    own = get(f"{path}/invoices/{DISPUTED.invoice_id}").body
    refused = post(f"{path}/invoices/{FOREIGN.invoice_id}/dispute",
                   {"csrf": csrf_of(own, "dispute"), "reason": "other", "text": "not ours"})
    assert refused.status_code == 404
    assert DynamoStore(runtime.table_name).get_invoice(FOREIGN.invoice_id).hold is None


def test_a_post_without_its_csrf_token_or_from_another_origin_changes_nothing(portal):
    runtime, get, post, _ = portal
    path = _path(runtime, BRIGHTWATER)
    page = get(f"{path}/invoices/{PROMISED.invoice_id}").body
    mueller_page = get(f"{_path(runtime, MUELLER)}/invoices/{FOREIGN.invoice_id}").body
    day = (runtime.now() + timedelta(days=5)).date().isoformat()
    action = f"{path}/invoices/{PROMISED.invoice_id}/promise"
    attempts = [
        ({"promised_on": day}, {}),  # no token
        ({"promised_on": day, "csrf": csrf_of(page, "dispute")}, {}),  # another form's token
        ({"promised_on": day, "csrf": csrf_of(mueller_page, "promise")}, {}),  # another link's token
        ({"promised_on": day, "csrf": csrf_of(page, "promise")}, {"Origin": "https://evil.example"}),
        ({"promised_on": day, "csrf": csrf_of(page, "promise")}, {"Origin": "null"}),
    ]
    for fields, headers in attempts:
        reply = post(action, fields, headers)
        assert reply.status_code == 403 and "This form has expired" in reply.body
    no_origin = runtime.request("POST", action, urlencode({"promised_on": day, "csrf": csrf_of(page, "promise")}).encode(),
                                {**FORM, "Host": HOST})
    assert no_origin.status_code == 403
    assert DynamoStore(runtime.table_name).get_invoice(PROMISED.invoice_id).hold is None


HOSTILE = '<script>alert("x")</script>\u202e&amp;"\'><img src=x onerror=alert(1)>'


def test_hostile_text_in_every_field_is_refused_or_shown_inert(portal):
    runtime, get, post, _ = portal
    path = _path(runtime, BRIGHTWATER)
    page = get(f"{path}/invoices/{PLANNED.invoice_id}").body
    base = f"{path}/invoices/{PLANNED.invoice_id}"
    replies = [
        post(f"{base}/dispute", {"csrf": csrf_of(page, "dispute"), "reason": HOSTILE, "disputed_amount": HOSTILE, "text": HOSTILE + "\x00"}),
        post(f"{base}/promise", {"csrf": csrf_of(page, "promise"), "promised_on": HOSTILE}),
        post(f"{base}/plan", {"csrf": csrf_of(page, "plan"), "due_on_1": HOSTILE, "amount_1": HOSTILE, "due_on_2": "2026-11-01",
                              "amount_2": "1" * 5000}),
        post(f"{path}/contact", {"csrf": csrf_of(get(path).body, "contact"), "email": HOSTILE, "phone": HOSTILE}),
        post(f"{base}/dispute", {"csrf": csrf_of(page, "dispute"), "reason": "other", "text": "x" * 1001}),
    ]
    for reply in replies:
        assert reply.status_code == 422, reply.body[-400:]
        assert "<script>alert" not in reply.body and "<img src=x" not in reply.body and "Please check the form" in reply.body
    assert "&lt;script&gt;" in replies[0].body or "&lt;script&gt;" in replies[3].body
    store = DynamoStore(runtime.table_name)
    assert store.get_invoice(PLANNED.invoice_id).hold is None and store.get_customer(BRIGHTWATER.customer_id).email == BRIGHTWATER.email


def test_the_debtor_disputes_promises_proposes_a_plan_and_fixes_the_ap_email(portal):
    runtime, get, post, _ = portal
    store = DynamoStore(runtime.table_name)
    path = _path(runtime, BRIGHTWATER)
    actor = "debtor via portal (link generation 1)"
    # When the clerk disputes part of the first invoice
    page = get(f"{path}/invoices/{DISPUTED.invoice_id}").body
    done = post(f"{path}/invoices/{DISPUTED.invoice_id}/dispute", {"csrf": csrf_of(page, "dispute"), "reason": "wrong_amount",
                                                                   "disputed_amount": "200.00", "text": "Two routes were cancelled"})
    # Then it is on a dispute hold, a task asks finance to review it, and the page confirms it
    assert done.status_code == 200 and "is in dispute" in done.body
    hold = store.get_invoice(DISPUTED.invoice_id).hold
    assert hold.kind.value == "dispute" and hold.actor == actor and "£200.00 of £1,200.00" in hold.reason
    task = next(t for t in store.open_tasks() if t["kind"] == "review_dispute")
    assert task["invoice_id"] == DISPUTED.invoice_id and task["details"]["disputed_amount"] == 20000
    # When they promise to pay the second in ten days
    promised_on = runtime.now().date() + timedelta(days=10)
    page = get(f"{path}/invoices/{PROMISED.invoice_id}").body
    done = post(f"{path}/invoices/{PROMISED.invoice_id}/promise", {"csrf": csrf_of(page, "promise"),
                                                                  "promised_on": promised_on.isoformat()})
    assert done.status_code == 200 and store.get_invoice(PROMISED.invoice_id).hold.promised_on == promised_on
    # And a promise beyond the policy's 30 days is refused with a message
    too_far = post(f"{path}/invoices/{PLANNED.invoice_id}/promise", {"csrf": csrf_of(page, "promise"),
                                                                    "promised_on": (promised_on + timedelta(days=40)).isoformat()})
    assert too_far.status_code == 422 and "too far ahead" in too_far.body
    # When they propose two instalments for the third (£300, under the policy's £500: agreed at once)
    page = get(f"{path}/invoices/{PLANNED.invoice_id}").body
    first, second = runtime.now().date() + timedelta(days=14), runtime.now().date() + timedelta(days=44)
    done = post(f"{path}/invoices/{PLANNED.invoice_id}/plan", {"csrf": csrf_of(page, "plan"), "due_on_1": first.isoformat(),
                                                              "amount_1": "150.00", "due_on_2": second.isoformat(), "amount_2": "150"})
    assert done.status_code == 200 and "is agreed" in done.body
    assert [i.amount for i in store.get_invoice(PLANNED.invoice_id).hold.instalments] == [15000, 15000]
    # When they change the AP email
    done = post(f"{path}/contact", {"csrf": csrf_of(get(path).body, "contact"), "email": "payables@brightwater-logistics.example",
                                    "phone": "+44 161 496 0000"})
    assert done.status_code == 200 and "payables@brightwater-logistics.example" in done.body
    customer = store.get_customer(BRIGHTWATER.customer_id)
    assert customer.email == "payables@brightwater-logistics.example" and customer.phone == "+441614960000"
    updated = next(e for e in store.entries(PLANNED.invoice_id) if e.kind == "customer_updated")
    assert updated.actor == actor and updated.details["previous"]["email"] == BRIGHTWATER.email
    # Then every action is logged with the portal's actor, and each was confirmed by email
    for invoice, kind in ((DISPUTED, "hold_placed"), (PROMISED, "hold_placed"), (PLANNED, "hold_placed")):
        assert any(e.kind == kind and e.actor == actor for e in store.entries(invoice.invoice_id))
    sent_before = len(runtime.sent_emails())
    # When the clock runs past the promised date and its grace
    runtime.run_until(runtime.now() + timedelta(days=16))
    # Then nothing was sent about the promised invoice before its date plus grace, and every later message
    # (the plan's reminder, the broken promise) went to the new AP address
    later = [m for m in runtime.sent_emails()[sent_before:] if MUELLER.email not in m.destinations]
    assert later and all("payables@brightwater-logistics.example" in m.destinations for m in later)
    assert not any(BRIGHTWATER.email in m.destinations for m in later)
    grace_end = promised_on + timedelta(days=3)
    promised_emails = [e for e in store.entries(PROMISED.invoice_id) if e.kind == "email" and e.at.date() > date(2026, 10, 12)]
    assert all(e.at.date() >= grace_end for e in promised_emails)


def test_revoked_links_stop_opening_and_a_fresh_link_goes_to_the_address_on_file(portal):
    runtime, get, post, _ = portal
    old = _path(runtime, MUELLER)
    # When finance revokes Müller's links
    revoked = runtime.request("POST", f"/customers/{MUELLER.customer_id}/portal-links/revoke",
                              b'{"reason": "link forwarded outside the company"}', {"Content-Type": "application/json"})
    assert revoked.status_code == 200 and revoked.json()["generation"] == 2
    # Then the old link shows no data; a link of the new generation opens
    assert get(old).status_code == 403
    assert get(_path(runtime, MUELLER)).status_code == 200
    # When the debtor asks for a fresh link with the old one
    form = get("/portal/link").body
    before = len(runtime.sent_emails())
    answer = post("/portal/link", {"csrf": csrf_of(form, "link"), "link": f"http://{HOST}{old}"})
    # Then it goes only to the billing address on file, with a link that opens
    assert answer.status_code == 200 and "on its way" in answer.body
    sent = runtime.sent_emails()[before:]
    assert len(sent) == 1 and sent[0].destinations[0] == MUELLER.email and all(MUELLER.email in d for d in sent[0].destinations)
    token = link_in(sent[0].raw_data).rpartition("/portal/")[2]
    assert read_link(token, [LOCAL_PORTAL_SECRET]).generation == 2
    # And a tampered link sends nothing, with the same answer; the fourth request of the day sends nothing either
    assert "on its way" in post("/portal/link", {"csrf": csrf_of(form, "link"), "link": old + "x"}).body
    for _ in range(3):
        post("/portal/link", {"csrf": csrf_of(form, "link"), "link": old})
    assert len(runtime.sent_emails()) == before + 3  # the per-customer limit: 3 a day


def test_no_request_was_answered_with_a_server_error(portal):
    *_, statuses = portal
    assert statuses and all(status < 500 for status in statuses)
