"""Persistence adapters: DynamoDB single table, S3 artefacts, in-memory twins."""
