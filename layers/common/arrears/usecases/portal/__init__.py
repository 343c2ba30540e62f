"""The debtor's own page: what the portal function calls (service.py: the operations; web.py: HTTP)."""
