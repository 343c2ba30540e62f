"""Secrets held in SSM Parameter Store (adapter): fetched with decryption, cached for a few minutes."""

from __future__ import annotations


def secret_values(name: str, max_age_seconds: int) -> list[str]:
    """The values of a SecureString holding one secret or a rotation's "new,old"; [] when `name` is empty.
    Read again after `max_age_seconds`, so a rotated value takes effect without a redeploy."""
    if not name:
        return []
    from aws_lambda_powertools.utilities import parameters

    from arrears.ingestion.webhooks import split_secrets

    return split_secrets(parameters.get_parameter(name, decrypt=True, max_age=max_age_seconds) or "")
