"""`arrears serve --clock real`: the clock starts at the real now and keeps to it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from arrears_local.local_routes import wall_now
from arrears_local.runtime import LocalRuntime
from arrears_local.serve import LocalServer, start_moment


def test_a_real_clock_starts_now_even_with_a_sample_book_or_a_start():
    # Given the real now
    before = datetime.now(timezone.utc).replace(microsecond=0)
    # When serve works out where a real clock starts, with the sample book (whose virtual default is 1 Sep 2026)
    begin = start_moment("real", None, 24)
    # Then it is the real now
    assert before <= begin <= datetime.now(timezone.utc)
    # And a virtual clock keeps its documented defaults
    assert start_moment("virtual", None, 24) == datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    assert start_moment("virtual", "2027-01-04T09:00:00Z", 0) == datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
    # And a start moment for a real clock is refused rather than silently ignored
    with pytest.raises(ValueError, match="real clock starts at the real now"):
        start_moment("real", "2026-09-01T08:00:00Z", 0)


def test_the_real_clock_is_the_wall_clock_however_late_the_runtime_started():
    # Given a runtime whose clock stands ten minutes behind the wall clock (a slow start, a stale --start)
    with LocalRuntime(start=wall_now().replace(microsecond=0) - timedelta(minutes=10)) as runtime:
        server = LocalServer(runtime, clock="real")
        # When a client asks for the time
        reply = server.handle("GET", "/_local/clock", "", b"", {})
        # Then it is the real now, not ten minutes ago
        shown = datetime.fromisoformat(json.loads(reply.body)["now"])
        assert reply.status_code == 200 and abs((wall_now() - shown).total_seconds()) < 5
        assert json.loads(reply.body)["clock"] == "real"
