"""The contact log's integrity (pure) and its archive in S3 (adapter)."""
