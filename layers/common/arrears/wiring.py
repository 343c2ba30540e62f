"""Composition root: settings -> adapters -> ports. Built on first use, cached per process."""

from __future__ import annotations

from functools import lru_cache

from arrears.domain.clock import SystemClock
from arrears.domain.ports import Ports
from arrears.adapters.settings import get_settings


@lru_cache(maxsize=1)
def dunning_ports() -> Ports:
    from arrears.adapters.ses import SesMailer
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository
    from arrears.adapters.s3 import S3ArtefactStore

    settings = get_settings()
    store = DynamoStore(settings.table_name)
    return Ports(
        store=store, log=store, artefacts=S3ArtefactStore(settings.letters_bucket),
        mailer=SesMailer(settings.ses_configuration_set), policies=DynamoPolicyRepository(settings.table_name),
        clock=SystemClock(), sender_email=settings.sender_email,
    )


@lru_cache(maxsize=1)
def workflows():
    from arrears.adapters.step_functions import StepFunctionsWorkflows

    return StepFunctionsWorkflows(get_settings().state_machine_arn)


def reset_wiring() -> None:
    """Forget every cached adapter and setting (the local runtime starts fresh resources)."""
    from arrears.adapters import aws
    from arrears.adapters.settings import reset_settings
    from arrears.adapters.dynamo_policies import reset_policy_cache

    dunning_ports.cache_clear()
    workflows.cache_clear()
    reset_settings()
    aws.reset_clients()
    reset_policy_cache()
