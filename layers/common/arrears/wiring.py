"""Composition root: settings -> adapters -> ports. Built on first use, cached per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from arrears.domain.clock import SystemClock
from arrears.domain.ports import Ports
from arrears.adapters.settings import Settings, get_settings


# Cached per settings: one entry in AWS (one function per process); one per function locally.
def dunning_ports() -> Ports:
    return _dunning_ports(get_settings())


@lru_cache(maxsize=8)
def _dunning_ports(settings: Settings) -> Ports:
    from arrears.adapters.ses import SesMailer
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository
    from arrears.adapters.s3 import S3ArtefactStore

    store = DynamoStore(settings.table_name)
    events = None
    if settings.event_bus_name:
        from arrears.adapters.events import EventBridgePublisher

        events = EventBridgePublisher(settings.event_bus_name)
    return Ports(
        store=store, log=store, artefacts=S3ArtefactStore(settings.letters_bucket),
        mailer=SesMailer(settings.ses_configuration_set), policies=DynamoPolicyRepository(settings.table_name),
        clock=SystemClock(), sender_email=settings.sender_email, events=events, reply_to=reply_addresses(settings),
        portal_link=portal_links(settings),
    )


def portal_links(settings: Settings):
    """The portal links the messages carry (None when PORTAL_PUBLIC_URL is empty: messages carry no link)."""
    from arrears.adapters.portal_records import PortalRecords
    from arrears.adapters.ssm_parameters import secret_values
    from arrears.domain.portal_links import PortalLinks

    if not settings.portal_public_url or not settings.portal_secret_parameter:
        return None
    return PortalLinks(PortalRecords(settings.table_name), settings.portal_public_url,
                       lambda: secret_values(settings.portal_secret_parameter, settings.secret_max_age_seconds), SystemClock())


def reply_addresses(settings: Settings):
    """The signed Reply-To addresses (None when the stack receives no replies: INBOUND_DOMAIN empty)."""
    from arrears.adapters.message_index import ReplyAddresses

    if not settings.inbound_domain:
        return None
    return ReplyAddresses(settings.inbound_domain, settings.reply_token_secret_parameter, settings.secret_max_age_seconds)


class BillingAdapters(NamedTuple):
    """What applying a billing event touches (the webhooks function): no letters, no mail."""

    store: Any
    log: Any
    policies: Any
    clock: Any


def billing_adapters() -> BillingAdapters:
    return _billing_adapters(get_settings())


@lru_cache(maxsize=8)
def _billing_adapters(settings: Settings) -> BillingAdapters:
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository

    store = DynamoStore(settings.table_name)
    return BillingAdapters(store=store, log=store, policies=DynamoPolicyRepository(settings.table_name), clock=SystemClock())


def inbound_ports():
    """What the inbound function touches: (InboundPorts, the inbound bucket's reader)."""
    return _inbound_ports(get_settings())


@lru_cache(maxsize=8)
def _inbound_ports(settings: Settings):
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository
    from arrears.adapters.message_index import DynamoMessageIndex
    from arrears.adapters.s3 import S3ArtefactStore
    from arrears.usecases.inbound import InboundPorts

    store = DynamoStore(settings.table_name)
    addresses = reply_addresses(settings)
    ports = InboundPorts(store=store, index=DynamoMessageIndex(settings.table_name),
                         artefacts=S3ArtefactStore(settings.letters_bucket),
                         policies=DynamoPolicyRepository(settings.table_name), clock=SystemClock(),
                         secrets=addresses.secrets if addresses is not None else list, domain=settings.inbound_domain,
                         default_policy_id=settings.default_policy_id)
    return ports, S3ArtefactStore(settings.inbound_bucket)


def workflows():
    return _workflows(get_settings())


@lru_cache(maxsize=8)
def _workflows(settings: Settings):
    from arrears.adapters.step_functions import StepFunctionsWorkflows

    return StepFunctionsWorkflows(settings.state_machine_arn)


def reset_wiring() -> None:
    """Forget every cached adapter and setting (the local runtime starts fresh resources)."""
    from arrears.adapters import aws
    from arrears.adapters.settings import reset_settings
    from arrears.adapters.dynamo_policies import reset_policy_cache

    _dunning_ports.cache_clear()
    _billing_adapters.cache_clear()
    _inbound_ports.cache_clear()
    _workflows.cache_clear()
    reset_settings()
    aws.reset_clients()
    reset_policy_cache()
