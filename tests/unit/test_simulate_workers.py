"""`arrears simulate --workers N` (issue #19): the book sharded by customer gives what one process gives.

The fixed book of the digest test (480 invoices of 120 customers, four a customer, consolidated messages,
the contact gap, holds aside) is simulated in one process and in shards by customer in two worker
processes: the printed figures and every contact written to --contacts are the same.
"""

from __future__ import annotations

import re
from datetime import timedelta

from typer.testing import CliRunner

from arrears.usecases.simulation_shards import SimulationSummary, shard_of, simulate_shard, split_by_customer
from arrears_local.book import book_updates, write_book
from arrears_local.cli import app
from tests.unit.test_domain_digest import START, fixed_book


def test_a_book_in_shards_by_customer_gives_the_same_figures_and_contacts_as_in_one(default_policy):
    # Given the fixed book split into three shards by customer
    book, _ = fixed_book()
    updates = book_updates(book)
    shards = split_by_customer(updates, 3)
    assert sorted(len(s) for s in shards) != [0, 0, len(updates)] and sum(map(len, shards)) == len(updates)
    for index, shard in enumerate(shards):  # each customer's updates all in its one shard
        assert {shard_of(change.invoice.customer_id, 3) for _, change in shard} <= {index}
    until = START + timedelta(days=150)
    # When each shard is simulated apart and their summaries merged
    merged = SimulationSummary.merge(simulate_shard(default_policy, shard, until, with_contacts=True) for shard in shards)
    whole = simulate_shard(default_policy, updates, until, with_contacts=True)
    # Then every figure, decision and contact is the one simulation's
    assert merged == whole
    assert whole.contacts > 1000 and whole.deferred and whole.referred


def test_simulate_with_two_workers_prints_and_writes_what_one_worker_does(tmp_path):
    # Given the fixed book as a book file
    book, _ = fixed_book()
    write_book(book, tmp_path / "book.csv")
    outputs = {}
    for workers in (1, 2):
        # When it is simulated with one worker and with two
        result = CliRunner().invoke(app, ["simulate", "--book", str(tmp_path / "book.csv"), "--days", "150",
                                          "--workers", str(workers), "--contacts", str(tmp_path / f"contacts-{workers}.csv")])
        assert result.exit_code == 0, result.output
        printed = re.sub(r"\d+\.\d s\.", "", result.output)  # its own run time
        outputs[workers] = [line for line in printed.splitlines() if "shard" not in line and "contacts written" not in line
                            and "simulating" not in line]
    # Then the figures printed and the contacts written are the same
    assert outputs[2] == outputs[1]
    one, two = ((tmp_path / f"contacts-{w}.csv").read_text() for w in (1, 2))
    assert one == two and one.count("\n") > 1000
