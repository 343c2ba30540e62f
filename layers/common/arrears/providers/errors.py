from __future__ import annotations


class WebhookRejected(Exception):
    """A delivery refused with a 4xx: it changes nothing, and the reason is machine-readable."""

    status_code = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignatureInvalid(WebhookRejected):
    status_code = 401


class MalformedEvent(WebhookRejected):
    status_code = 400
