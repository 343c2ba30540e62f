"""A complete MIME message from a rendered email: pure, so the stored .eml is exactly what was sent."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol


class Rendered(Protocol):
    subject: str
    text: str
    html: str


def compose_email(
    rendered: Rendered,
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    recipient_name: str,
    reference: str,
    reply_to: str,
    sent_at: datetime,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = str(MailAddress(display_name=sender_name, addr_spec=sender))
    message["To"] = str(MailAddress(display_name=recipient_name, addr_spec=recipient))
    message["Reply-To"] = reply_to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(sent_at)
    # Deterministic id: the same contact always yields the same message, byte for byte.
    digest = hashlib.sha256(f"{reference}|{recipient}".encode()).hexdigest()[:24]
    message["Message-ID"] = f"<{digest}@arrears.invalid>"
    message["X-Arrears-Reference"] = reference
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for filename, content, content_type in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    # Fixed boundaries (email picks random ones) keep the stored .eml and its hash reproducible.
    for index, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"=_arrears_{digest}_{index}")
    return message.as_bytes()
