"""Timestamps in responses (S3's Last-Modified, ...): botocore parses each string with dateutil (~0.5 ms).
The virtual clock stands still while executions run, so the same strings come back again and again; the
(immutable) datetime is kept per string. Parsers of clients made while the engine runs pick this up."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class TimestampParses(Patch):
    NAME = "timestamp_parses"
    WRITTEN_FOR = "botocore 1.44.5"
    SPEEDUP = True
    TARGETS = (Target("botocore.parsers", "DEFAULT_TIMESTAMP_PARSER", ("value",)),)

    def install(self) -> None:
        from botocore import parsers as botocore_parsers

        orig_timestamp_parser = botocore_parsers.DEFAULT_TIMESTAMP_PARSER
        timestamps: dict[str, Any] = {}

        def parse_timestamp(value: Any) -> Any:
            if type(value) is not str:
                return orig_timestamp_parser(value)
            parsed_at = timestamps.get(value)
            if parsed_at is None:
                parsed_at = orig_timestamp_parser(value)
                if len(timestamps) >= 8192:
                    timestamps.clear()
                timestamps[value] = parsed_at
            return parsed_at

        self.set(botocore_parsers, "DEFAULT_TIMESTAMP_PARSER", parse_timestamp)
