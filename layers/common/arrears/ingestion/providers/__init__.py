"""Billing platforms: signature checks and payload parsing (pure) into domain updates."""
