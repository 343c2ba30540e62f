"""Domain records. Money is integer minor units plus an ISO 4217 code; times are aware UTC."""

from arrears.domain.models.records import (
    TERMINAL_STATUSES,
    Address,
    Artefact,
    ContactEntry,
    Customer,
    Hold,
    HoldKind,
    Instalment,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    RecentContact,
)

__all__ = [
    "TERMINAL_STATUSES",
    "Address",
    "Artefact",
    "ContactEntry",
    "Customer",
    "Hold",
    "HoldKind",
    "Instalment",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "RecentContact",
]
