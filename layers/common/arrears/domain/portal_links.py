"""The debtor's signed portal link (domain, pure): who it is for, until when, and which generation.

A link is `<customer>.<expires>.<generation>.<mac>`: the customer id in URL-safe base64, the expiry in Unix
seconds and the customer's link generation in base 10, and an HMAC-SHA256 (truncated to 128 bits, URL-safe
base64) of the three under the portal's secret. Short enough to print on a letter (about 60 characters for a
platform's customer id). The secret rotates as the webhook secrets do: links are signed with the first of the
secrets and accepted under any of them ("new,old" while rotating). Every MAC is compared in constant time.

The finance team revokes a customer's links by raising the generation stored with the customer: a link of an
older generation is `revoked`. Each page's forms carry a token bound to the link and the form (CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

# A token longer than this is never one of ours (a customer id is at most 200 characters).
MAX_TOKEN_CHARS = 400
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{1,280})\.([0-9]{1,12})\.([0-9]{1,9})\.([A-Za-z0-9_-]{22})$")

VALID, EXPIRED, REVOKED = "valid", "expired", "revoked"


@dataclass(frozen=True)
class PortalLink:
    customer_id: str
    expires_at: datetime
    generation: int


class NoSecret(RuntimeError):
    """No portal secret is configured: no link can be signed or read."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _mac(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()[:16])


def _same(a: str, b: str) -> bool:
    # Bytes, not text: compare_digest refuses non-ASCII text, and a token is whatever a browser sends.
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def sign_link(customer_id: str, generation: int, expires_at: datetime, secrets: Sequence[str]) -> str:
    """The token of a link for `customer_id` of `generation`, valid until `expires_at` (signed with secrets[0])."""
    if not secrets:
        raise NoSecret("no portal link secret is configured (PORTAL_SECRET_PARAMETER)")
    payload = f"{_b64(customer_id.encode('utf-8'))}.{int(expires_at.timestamp())}.{int(generation)}"
    return f"{payload}.{_mac(secrets[0], 'link|' + payload)}"


def new_link(customer_id: str, generation: int, now: datetime, expiry_days: int, secrets: Sequence[str]) -> str:
    return sign_link(customer_id, generation, now + timedelta(days=expiry_days), secrets)


def read_link(token: str, secrets: Sequence[str]) -> PortalLink | None:
    """The link a token names when one of `secrets` signed it; None for anything else (tampered, malformed)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.match(token)
    if match is None:
        return None
    encoded, expires, generation, mac = match.groups()
    payload = f"{encoded}.{expires}.{generation}"
    # Every secret is tried (no early exit), so the time taken does not say which one matched.
    matched = [_same(mac, _mac(secret, "link|" + payload)) for secret in secrets]
    if not any(matched):
        return None
    try:
        customer_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        expires_at = datetime.fromtimestamp(int(expires), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return PortalLink(customer_id, expires_at, int(generation))


def link_state(link: PortalLink, now: datetime, current_generation: int) -> str:
    """valid, expired (past its date) or revoked (an older generation than the customer's)."""
    if link.generation < current_generation:
        return REVOKED
    if now >= link.expires_at:
        return EXPIRED
    return VALID


def form_token(token: str, form: str, secrets: Sequence[str]) -> str:
    """The CSRF token a page's `form` carries: bound to the link and to the form, signed like the link."""
    if not secrets:
        raise NoSecret("no portal link secret is configured (PORTAL_SECRET_PARAMETER)")
    return _mac(secrets[0], f"form|{form}|{token}")


def form_token_ok(given: str, token: str, form: str, secrets: Sequence[str]) -> bool:
    if not isinstance(given, str) or len(given) != 22:
        return False
    return any([_same(given, _mac(secret, f"form|{form}|{token}")) for secret in secrets])


class PortalLinks:
    """A customer's portal link, `<base url>/portal/<token>` (Ports.portal_link; the portal's fresh links): signed
    with the newest of `secrets()`, the customer's current generation (`records.generation`), opening `expiry_days`
    from the clock's now. None when no key is set."""

    def __init__(self, records: Any, base_url: str, secrets: Callable[[], Sequence[str]], clock: Any) -> None:
        self.records, self.base_url, self.secrets, self.clock = records, base_url.rstrip("/"), secrets, clock

    def __call__(self, customer_id: str, expiry_days: int) -> str | None:
        secrets = self.secrets()
        if not secrets:
            return None
        token = new_link(customer_id, self.records.generation(customer_id), self.clock.now(), expiry_days, secrets)
        return f"{self.base_url}/portal/{token}"
