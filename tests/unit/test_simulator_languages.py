"""German and French debtors through the policy simulator: the same domain code the workflow runs."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy as email_policy

from pypdf import PdfReader

from arrears.domain.models import Address
from arrears.domain.policy.model import LatePayment
from arrears.usecases.simulator import Simulation
from arrears_local.book import BookInvoice, book_updates, synthetic_book

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def debtor(item: BookInvoice, name: str, language: str, address: Address, zone: str) -> BookInvoice:
    customer = item.customer.model_copy(update={"name": name, "language": language, "address": address, "timezone": zone})
    invoice = item.invoice.model_copy(update={"currency": "EUR"})
    return BookInvoice(invoice=invoice, customer=customer, paid_at=None)


def test_never_paying_german_and_french_debtors_get_every_contact_in_their_language(default_policy):
    # Given a German and a French debtor who never pay, under their own statutory interest schemes
    first, second = synthetic_book(2, START)
    book = [
        debtor(first, "Müller & Söhne GmbH", "de", Address(line1="Friedrichstraße 123", postal_code="10117", city="Berlin",
                                                            country="DE"), "Europe/Berlin"),
        debtor(second, "Atelier Lumière SARL", "fr", Address(line1="18 rue de la Paix", postal_code="75002", city="Paris",
                                                              country="FR"), "Europe/Paris"),
    ]
    results = {}
    for item, scheme in zip(book, ("de_bgb_288", "fr_l441_10")):
        policy = default_policy.model_copy(update={"late_payment": LatePayment(scheme=scheme)})
        simulation = Simulation(policy, "collections@arrears.invalid")
        simulation.add_updates(book_updates([item]))
        simulation.run(START + timedelta(days=150))
        results[item.customer.language] = simulation

    # When the simulation has walked the whole policy
    # Then every email subject is in the debtor's language, and the demand letter is too
    expected = {"de": ("Freundlicher Hinweis", "Zahlungserinnerung", "Mahnung:", "Letzte Mahnung", "Inkassounternehmen",
                       "Mahnung und Zahlungsaufforderung", "§ 288 Abs. 2 BGB"),
                "fr": ("Rappel amical", "Relance", "Mise en demeure :", "Dernier avis", "société de recouvrement",
                       "Mise en demeure de payer", "article L. 441-10 du Code de commerce")}
    for language, simulation in results.items():
        subjects = [str(message_from_bytes(raw, policy=email_policy.default)["Subject"]) for _, recipients, raw in
                    simulation.mailer.sent if recipients != ["referrals@lambertcole.example"]]
        *subject_words, heading, law = expected[language]
        for word in subject_words:
            assert any(word in subject for subject in subjects), (language, word, subjects)
        assert not [s for s in subjects if "invoice" in s or "Invoice" in s], subjects
        # And the collection agency is written to in its own language (English by default), not the debtor's
        to_agency = [str(message_from_bytes(raw, policy=email_policy.default)["Subject"]) for _, recipients, raw in
                     simulation.mailer.sent if recipients == ["referrals@lambertcole.example"]]
        assert len(to_agency) == 1 and to_agency[0].startswith("Referral: "), to_agency
        letters = [body for key, body in simulation.ports.artefacts.objects.items() if key.startswith("letters/")]
        assert letters, language
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(letters[0])).pages).replace("\n", " ")
        assert heading in text and law in text
