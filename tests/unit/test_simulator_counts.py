"""What the simulator counts: messages to debtors apart from emails to the collection agency (issue 12)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, synthetic_book

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_the_simulator_counts_emails_to_debtors_apart_from_emails_to_the_agency(default_policy):
    # Given three invoices of three customers that are never paid, walked through the policy to referral
    book = synthetic_book(3, START)
    debtors = {item.customer.email for item in book}
    for render in (True, False):
        simulation = Simulation(default_policy, "collections@arrears.invalid", render=render)
        simulation.add_updates(book_updates(book))
        # When the simulation has run (rendered, and plan-only)
        result = simulation.run(START + timedelta(days=200))
        referred = result.referred()
        assert referred
        # Then the agency's emails (one per referral) are counted apart from the debtors' emails
        assert result.agency_emails == len(referred)
        assert result.debtor_emails + result.agency_emails == result.emails_sent
        if render:
            to_debtors = [raw for _, recipients, raw in simulation.mailer.sent if set(recipients) <= debtors]
            assert result.debtor_emails == len(to_debtors)
