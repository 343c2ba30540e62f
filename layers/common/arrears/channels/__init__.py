"""How contacts reach people: rendering (pure) and delivery (SES, S3 adapters)."""
