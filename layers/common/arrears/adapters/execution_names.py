"""Step Functions execution names for invoices: valid, unique and deterministic.

An execution name is 1-80 characters and, for the execution to be logged to CloudWatch, only
``0-9 A-Z a-z - _`` (no ':' and no '/', which Chargebee and the generic feed allow in ids). An
invoice id that is already such a name, short enough and not shaped like one of ours below, is
its own name (readable in the console). Any other id is named by a readable prefix (its first
characters, others replaced by '_') and 20 hex digits of the SHA-256 of the whole id:
``<prefix>--h<hash>``. A renewal (a successor execution carrying the invoice on, before the
year a standard execution may last) appends ``-r<n>``. No plain name ends in ``--h<20 hex>`` or
``-r<digits>``, so no invoice's name is another's, nor another's renewal.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 80
MAX_RENEWAL = 999_999  # "-r999999" is 8 characters: a base name of at most 72 leaves room for it
_BASE_LENGTH = MAX_NAME_LENGTH - len(f"-r{MAX_RENEWAL}")
_HASH_DIGITS = 20
_PLAIN = re.compile(r"[0-9A-Za-z_-]{1,%d}" % _BASE_LENGTH)
_OURS = re.compile(r"(--h[0-9a-f]{%d}|-r[0-9]+)$" % _HASH_DIGITS)
_INVALID = re.compile(r"[^0-9A-Za-z_-]")
VALID_NAME = re.compile(r"[0-9A-Za-z_-]{1,%d}" % MAX_NAME_LENGTH)


def execution_name(invoice_id: str, renewal: int = 0) -> str:
    """The name of the invoice's workflow execution (``renewal`` > 0: its n-th successor)."""
    if not invoice_id:
        raise ValueError("an invoice id is needed to name its execution")
    if not 0 <= renewal <= MAX_RENEWAL:
        raise ValueError(f"renewal must be between 0 and {MAX_RENEWAL}")
    if _PLAIN.fullmatch(invoice_id) and not _OURS.search(invoice_id):
        base = invoice_id
    else:
        digest = hashlib.sha256(invoice_id.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
        prefix = _INVALID.sub("_", invoice_id)[: _BASE_LENGTH - len("--h") - _HASH_DIGITS]
        base = f"{prefix}--h{digest}"
    return base if renewal == 0 else f"{base}-r{renewal}"


def renewal_of(invoice_id: str, name: str) -> int:
    """Which of the invoice's executions `name` is: 0 the first, n its n-th renewal (ValueError: none of them)."""
    base = execution_name(invoice_id)
    if name == base:
        return 0
    suffix = name.removeprefix(f"{base}-r")
    if suffix != name and suffix.isdigit() and name == execution_name(invoice_id, int(suffix)):
        return int(suffix)
    raise ValueError(f"{name!r} is not an execution of invoice {invoice_id!r}")
