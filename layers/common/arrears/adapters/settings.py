"""The one place that reads the environment.

Every handler reads its configuration through `get_settings()`, once per
process (cached), so tests and the local runtime can set the environment
before the first call and nothing reads `os.environ` at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

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
    # How long a fetched webhook secret is trusted before SSM is asked again;
    # short enough that a rotated secret takes effect without a redeploy.
    secret_max_age_seconds: int = Field(default=300, validation_alias="SECRET_MAX_AGE_SECONDS")
    default_policy_id: str = Field(default="default", validation_alias="DEFAULT_POLICY_ID")
    workflow_function_name: str = Field(default="", validation_alias="WORKFLOW_FUNCTION_NAME")
    # The finance console's origin (https://<distribution>.cloudfront.net): the one the finance API's CORS allows.
    console_origin: str = Field(default="", validation_alias="CONSOLE_ORIGIN")


# The settings of the function running in this context, when one process runs several functions
# (the local runtime gives each exactly its template entry's environment); unset in AWS.
_FUNCTION_SETTINGS: ContextVar[Settings | None] = ContextVar("arrears_function_settings", default=None)


def get_settings() -> Settings:
    return _FUNCTION_SETTINGS.get() or _process_settings()


@lru_cache(maxsize=1)
def _process_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # values come from the environment


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
