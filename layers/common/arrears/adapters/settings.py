"""The one place that reads the environment.

Every handler reads its configuration through `get_settings()`, once per
process (cached), so tests and the local runtime can set the environment
before the first call and nothing reads `os.environ` at import time.

A plain pydantic model filled from the environment's upper-case names (its fields' aliases), not
pydantic-settings: that package and python-dotenv cost about half an `import boto3` of every cold start
(issue #19) for what `Settings.from_environ` does here in a few lines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(validation_alias="TABLE_NAME")
    idempotency_table_name: str = Field(default="", validation_alias="IDEMPOTENCY_TABLE_NAME")
    letters_bucket: str = Field(default="", validation_alias="LETTERS_BUCKET")
    audit_bucket: str = Field(default="", validation_alias="AUDIT_BUCKET")
    state_machine_arn: str = Field(default="", validation_alias="STATE_MACHINE_ARN")
    sender_email: str = Field(default="", validation_alias="SENDER_EMAIL")
    ses_configuration_set: str = Field(default="", validation_alias="SES_CONFIGURATION_SET")
    stripe_webhook_secret_parameter: str = Field(
        default="", validation_alias="STRIPE_WEBHOOK_SECRET_PARAMETER"
    )
    paddle_webhook_secret_parameter: str = Field(default="", validation_alias="PADDLE_WEBHOOK_SECRET_PARAMETER")
    chargebee_webhook_secret_parameter: str = Field(default="", validation_alias="CHARGEBEE_WEBHOOK_SECRET_PARAMETER")
    generic_webhook_secret_parameter: str = Field(default="", validation_alias="GENERIC_WEBHOOK_SECRET_PARAMETER")
    # SSM SecureString holding the finance API's list-cursor signing key(s); "new,old" while rotating.
    cursor_key_parameter: str = Field(default="", validation_alias="CURSOR_KEY_PARAMETER")
    # SSM SecureString holding the key(s) that sign the debtors' portal links; "new,old" while rotating.
    portal_secret_parameter: str = Field(default="", validation_alias="PORTAL_SECRET_PARAMETER")
    # The public base URL of the portal (links in emails and letters); empty: the API's own URL.
    portal_public_url: str = Field(default="", validation_alias="PORTAL_PUBLIC_URL")
    # How long a fetched webhook secret is trusted before SSM is asked again;
    # short enough that a rotated secret takes effect without a redeploy.
    secret_max_age_seconds: int = Field(default=300, validation_alias="SECRET_MAX_AGE_SECONDS")
    default_policy_id: str = Field(default="default", validation_alias="DEFAULT_POLICY_ID")
    # Debtor replies (docs/replies.md): the domain SES receives them at ("" = off: Reply-To is the creditor's own
    # address), the SSM SecureString with the key(s) that sign reply addresses, and the bucket SES stores them in.
    inbound_domain: str = Field(default="", validation_alias="INBOUND_DOMAIN")
    reply_token_secret_parameter: str = Field(default="", validation_alias="REPLY_TOKEN_SECRET_PARAMETER")
    inbound_bucket: str = Field(default="", validation_alias="INBOUND_BUCKET")
    workflow_function_name: str = Field(default="", validation_alias="WORKFLOW_FUNCTION_NAME")
    dry_run_function_name: str = Field(default="", validation_alias="DRY_RUN_FUNCTION_NAME")
    # The X-Ray SDK in the handler (a subsegment per AWS call); Lambda's active tracing needs none of it
    # (adapters/tracing.py). Off unless the template's TraceAwsCalls parameter turns it on.
    trace_disabled: bool = Field(default=True, validation_alias="POWERTOOLS_TRACE_DISABLED")
    # EventBridge bus for events other systems act on (a credit limit crossed); empty: nothing is published.
    event_bus_name: str = Field(default="", validation_alias="EVENT_BUS_NAME")
    # The finance console's origin (https://<distribution>.cloudfront.net): the one the finance API's CORS allows.
    console_origin: str = Field(default="", validation_alias="CONSOLE_ORIGIN")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        """The settings in `environ` (the process's, or a function's declared environment), by their names."""
        return cls.model_validate({name: environ[name] for name in _ALIASES if name in environ})


_ALIASES = tuple(str(field.validation_alias) for field in Settings.model_fields.values())


# The settings of the function running in this context, when one process runs several functions
# (the local runtime gives each exactly its template entry's environment); unset in AWS.
_FUNCTION_SETTINGS: ContextVar[Settings | None] = ContextVar("arrears_function_settings", default=None)


def get_settings() -> Settings:
    return _FUNCTION_SETTINGS.get() or _process_settings()


@lru_cache(maxsize=1)
def _process_settings() -> Settings:
    return Settings.from_environ(os.environ)


@contextmanager
def function_settings(settings: Settings) -> Iterator[None]:
    """Run a function's invocation with its own settings (the local runtime: one process, many functions)."""
    token = _FUNCTION_SETTINGS.set(settings)
    try:
        yield
    finally:
        _FUNCTION_SETTINGS.reset(token)


def reset_settings() -> None:
    """Forget the cached settings (the local runtime and tests change the environment)."""
    _process_settings.cache_clear()
