"""HMAC-SHA256 header signatures over `<timestamp><joiner><body>`, as Stripe, Paddle and the generic feed use them (pure)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from arrears.ingestion.providers.errors import SignatureInvalid

# What a header's parts must look like: ASCII digits only ("١٢٣" and "²" are digits to str.isdigit and
# int() would take or choke on them), and a hex HMAC (compare_digest refuses non-ASCII text).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{1,128}")


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def parse_signature_header(header: str | None, separator: str, timestamp_name: str, signature_name: str,
                           header_name: str) -> tuple[int, list[str]]:
    """(timestamp, candidate signatures) of a `ts=..;h1=..`-style header; refuses a missing or malformed one."""
    if not header:
        raise SignatureInvalid("missing_signature", f"the {header_name} header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(separator):
        name, _, value = part.strip().partition("=")
        value = value.strip()
        if name == timestamp_name and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == signature_name and _HEX_SIGNATURE.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureInvalid("malformed_signature",
                               f"the {header_name} header has no {timestamp_name} timestamp or no {signature_name} signature")
    return timestamp, candidates


def check_timestamp(timestamp: int, now: datetime, tolerance_seconds: int) -> None:
    age = now.timestamp() - timestamp
    if age > tolerance_seconds:
        raise SignatureInvalid("timestamp_too_old", f"the signature timestamp is {int(age)} s old (limit {tolerance_seconds} s)")
    if age < -tolerance_seconds:
        raise SignatureInvalid("timestamp_in_future", "the signature timestamp is in the future")


def check_any_matches(signed: bytes, candidates: list[str], secrets: list[str]) -> None:
    """Any configured secret (new and old, while rotating) against any signature in the header."""
    for secret in secrets:
        expected = hmac_sha256_hex(secret, signed)
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise SignatureInvalid("signature_mismatch", "no signature matches the body with the configured secret")


@dataclass(frozen=True)
class TimestampedHmac:
    """One platform's scheme: the header's name and syntax, what joins timestamp and body, the tolerance."""

    header_name: str  # e.g. Stripe-Signature
    separator: str  # between the header's parts
    timestamp_name: str
    signature_name: str
    joiner: str  # between the timestamp and the raw body in the signed message
    tolerance_seconds: int

    def _signed(self, timestamp: int, raw_body: bytes) -> bytes:
        return f"{timestamp}{self.joiner}".encode() + raw_body

    def sign(self, raw_body: bytes, secret: str, timestamp: int) -> str:
        """The header value, as the platform computes it (used by the demo, the samples and the tests)."""
        signature = hmac_sha256_hex(secret, self._signed(timestamp, raw_body))
        return f"{self.timestamp_name}={timestamp}{self.separator}{self.signature_name}={signature}"

    def verify(self, raw_body: bytes, header: str | None, secrets: list[str], now: datetime) -> None:
        timestamp, candidates = parse_signature_header(header, self.separator, self.timestamp_name, self.signature_name,
                                                       self.header_name)
        check_timestamp(timestamp, now, self.tolerance_seconds)
        check_any_matches(self._signed(timestamp, raw_body), candidates, secrets)
