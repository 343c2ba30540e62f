"""Ingestion: what billing platforms send (webhooks of each provider, their signature checks,
bulk import), turned into billing changes applied to the book."""
