"""Every email and letter carries the debtor's portal link (issue 16): the email in its text and HTML, the letter
printed in full under How to pay, in the debtor's language; no link, no sentence about it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from arrears.domain.dunning import with_portal_link
from arrears.domain.clock import FixedClock
from arrears.domain.models import Address, Customer
from arrears.domain.policy import load_policy_file
from arrears.domain.portal_links import PortalLinks, read_link
from arrears.rendering.emails import render_email
from arrears.rendering.letter_pdf import render_demand_letter
from arrears_local.runtime import project_root
from tests.unit.sample_notice import make_notice
from tests.unit.test_letter_pdf import pdf_text

LINK = "https://account.northwind.example/portal/Y3VzX0ExQjJDMw.1794384000.1.zbqKwghVDPg9L7peBptE1g"
SENTENCES = {"en": "On your own page", "de": "auf Ihrer eigenen Seite", "fr": "sur votre page"}
LABELS = {"en": "Your account", "de": "Ihr Konto", "fr": "Votre compte"}
NOW = datetime(2026, 10, 12, 8, tzinfo=timezone.utc)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_an_email_carries_the_link_in_text_and_html(language: str) -> None:
    # Given an overdue reminder with the customer's portal link
    email = render_email(make_notice("overdue_reminder", language, portal_url=LINK))
    # Then both parts say what the page is for and give the link
    assert SENTENCES[language] in email.text and LINK in email.text
    assert SENTENCES[language] in email.html and f'href="{LINK}"' in email.html


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_a_letter_prints_the_link_in_full_under_how_to_pay(language: str) -> None:
    # Given a formal notice letter with the link
    text = pdf_text(render_demand_letter(make_notice("formal_notice", language, portal_url=LINK)))
    # Then the letter prints it beside its label, on one line (a person types it)
    assert f"{LABELS[language]} {LINK}" in text


def test_without_a_link_nothing_mentions_the_page() -> None:
    email = render_email(make_notice("overdue_reminder", "en"))
    letter = pdf_text(render_demand_letter(make_notice("formal_notice", "en")))
    assert SENTENCES["en"] not in email.text and "/portal/" not in email.html
    assert "Your account" not in letter


class _Generations:
    def __init__(self, generation: int) -> None:
        self.value = generation

    def generation(self, customer_id: str) -> int:
        return self.value


class _Ports:
    def __init__(self, portal_link) -> None:
        self.portal_link = portal_link


def test_the_notice_gets_a_signed_link_of_the_customers_generation_only_when_the_policy_has_the_portal() -> None:
    # Given version 4 of the default policy (portal on) and a stack that makes links
    policy = load_policy_file(project_root() / "policies" / "default.yaml")
    customer = Customer(customer_id="cus_A1B2C3", provider="stripe", name="Brightwater Logistics Ltd", email="ap@brightwater.example",
                        address=Address(line1="44 Canal Street", postal_code="M1 3HP", city="Manchester", country="GB"), updated_at=NOW)
    links = PortalLinks(_Generations(3), "https://account.northwind.example/", lambda: ["new-key", "old-key"],
                        FixedClock(NOW))
    notice = make_notice("overdue_reminder", "en")
    # When the notice is prepared
    url = with_portal_link(notice, customer, policy, _Ports(links)).portal_url
    # Then it carries the customer's link, signed with the newest key, of their generation, for the policy's days
    assert url.startswith("https://account.northwind.example/portal/")
    link = read_link(url.rpartition("/")[2], ["new-key"])
    assert link is not None and link.customer_id == "cus_A1B2C3" and link.generation == 3
    assert (link.expires_at - NOW).days == policy.portal.link_expiry_days
    # And none when the policy has no portal, or the stack makes no links
    off = policy.model_copy(update={"portal": policy.portal.model_copy(update={"enabled": False})})
    assert with_portal_link(notice, customer, off, _Ports(links)).portal_url == ""
    assert with_portal_link(notice, customer, policy, _Ports(None)).portal_url == ""
    assert replace(notice) == with_portal_link(notice, customer, policy, _Ports(None))
