"""The domain: collections rules with no I/O (models, policy, calendar, money, interest, notices,
dunning, holds, deliverability, the contact queue) and the ports the adapters implement.
It imports nothing from ingestion, rendering (but lazily, through the renderer port), adapters or use cases."""
