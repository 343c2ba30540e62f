"""What a debtor's data may be, and how it is made safe to print, to put in a header or to name a file (domain).

A billing platform's record is data to work with, never a reason for a workflow to fail
(docs/debtor-data.md):
- an email address is usable only if `email-validator` accepts it as one plain address (no
  display name, no list, no CR/LF/NUL, a real domain); anything else is kept as the platform
  sent it, never mailed, and becomes a `complete_debtor_data` task;
- names, address lines, invoice numbers and line descriptions are printed and put in headers
  with control characters (and bidi overrides, line separators) replaced by spaces;
- a file name (an attachment) is never taken from raw input: only [A-Za-z0-9._-] survive;
- a currency is an ISO 4217 code some territory uses as legal tender today (babel's CLDR data).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

# Explicit bidi embeddings, overrides and isolates: they reorder what follows them (a name that spoofs another).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, surrogates, and the line / paragraph separators str.splitlines() breaks on.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_SPACES = re.compile(r" {2,}")
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILE_STEM = 80


def printable(text: str) -> str:
    """`text` on one line, with every control character, bidi override and line separator a space,
    runs of spaces collapsed: safe in a header, a PDF and a log line. Other text is left as it is."""
    if text.isprintable() and "  " not in text and text == text.strip():
        return text  # the common case, unchanged
    cleaned = "".join(" " if _unsafe(c) else c for c in text)
    return _SPACES.sub(" ", cleaned).strip()


def _unsafe(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def file_stem(text: str, fallback: str = "invoice") -> str:
    """A file name stem from debtor-supplied text (an invoice number): letters, digits, '.', '_' and '-'
    only, never starting with a dot, at most MAX_FILE_STEM characters; `fallback` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()  # "Ä" -> "A"
    stem = _FILE_NAME_UNSAFE.sub("_", ascii_text).strip("._-")[:MAX_FILE_STEM].rstrip("._-")
    return stem or fallback


@lru_cache(maxsize=8192)
def _checked_email(address: str) -> tuple[str | None, str | None]:
    """(why `address` cannot be mailed, the form it is mailed in): one check per address, whatever asks."""
    if not address.strip():
        return "the address is empty", None
    if any(c in address for c in "\r\n\x00"):
        return "the address contains a line break or NUL character", None
    if "<" in address or ">" in address:
        return "the address has a display name or angle brackets; only the address itself is accepted", None
    if address.count("@") > 1 or any(c in address for c in ",;"):
        return "the field holds several addresses; only one is accepted", None
    from email_validator import EmailNotValidError, validate_email  # lazily: 20 ms of a cold start (issue #19)

    try:
        valid = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as invalid:
        return str(invalid), None
    return None, valid.ascii_email


def email_problem(address: str) -> str | None:
    """Why `address` cannot be mailed (None when it can): checked without DNS, so it is safe in a request path."""
    return _checked_email(address)[0]


def usable_email(address: str) -> str | None:
    """The address as it is mailed (its domain in ASCII, as SES needs it), or None when it is unusable."""
    return _checked_email(address)[1]


def entered_email(address: str | None) -> str:
    """An email address as a billing platform sends it, as it is stored: a usable one in the form it is
    mailed to (so bounces match it), anything else as the platform sent it (the task quotes it)."""
    if not address:
        return ""
    return usable_email(address) or address


def email_or_error(address: str) -> str:
    """For a person's input (the finance API): the address as it is mailed, or a ValueError saying why not."""
    problem = email_problem(address)
    if problem is not None:
        raise ValueError(f"not a usable email address: {problem}")
    return usable_email(address) or address


@lru_cache(maxsize=4)
def active_currencies(on: date | None = None) -> frozenset[str]:
    """ISO 4217 codes that are legal tender in some territory on `on` (default: today), from babel's CLDR data:
    no withdrawn currencies (DEM, HRK), no funds or metals (XAU, CLF), no test codes (XTS, XXX)."""
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    day = on or date.today()
    return frozenset(code for territory in get_global("territory_currencies")
                     for code in get_territory_currencies(territory, start_date=day, tender=True))


def currency_or_error(code: str) -> str:
    """The code in capitals if it is an active ISO 4217 currency, else a ValueError naming it."""
    upper = code.upper()
    if upper not in active_currencies():
        raise ValueError(f"{code[:10]!r} is not an active ISO 4217 currency code")
    return upper
