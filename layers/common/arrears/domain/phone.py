"""Debtors' phone numbers: what a call task shows and a person dials (domain, no dependencies).

A number in international form is kept as E.164 (`+` and 8 to 15 digits, e.g. `+442079460958`);
`00` counts as `+`. A billing platform's number that is not (a national number, an extension) is
kept as the platform wrote it, trimmed: a person can still read and dial it, and the debtor's data
never stops ingestion. The finance team's own number (`PATCH /customers/{id}`) must be international.
"""

from __future__ import annotations

import re

MAX_LENGTH = 40
_FORMATTING = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class InvalidPhone(ValueError):
    pass


def international(raw: str) -> str | None:
    """The number as E.164, or None when it is not written in international form."""
    compact = _FORMATTING.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.match(compact) else None


def phone_from_platform(raw: str | None) -> str:
    """A billing platform's number for the customer record: E.164 when it can be, else as written ("" for none)."""
    if not raw or not raw.strip():
        return ""
    return international(raw) or " ".join(raw.split())[:MAX_LENGTH]


def phone_from_finance(raw: str) -> str:
    """The finance team's number: E.164, or InvalidPhone saying what is expected."""
    number = international(raw)
    if number is None:
        raise InvalidPhone(f"{raw!r} is not a phone number in international form (e.g. +44 20 7946 0958)")
    return number
