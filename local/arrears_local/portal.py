"""Portal links for the local stack: the link a debtor's message would carry (the demo prints one)."""

from __future__ import annotations

from arrears.adapters.portal_records import PortalRecords
from arrears.domain.clock import FixedClock
from arrears.domain.policy import load_policy_file
from arrears.domain.portal_links import PortalLinks
from arrears.ingestion.webhooks import split_secrets
from arrears_local.runtime import LocalRuntime


def portal_link(runtime: LocalRuntime, customer_id: str, base_url: str) -> str:
    """`base_url`/portal/<token>: signed with the local stack's portal secret, the customer's current generation,
    valid for the default policy's link_expiry_days from the runtime's now."""
    name = runtime.resolver.refs["PortalSecretParameterName"]
    secret = runtime.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    days = load_policy_file(runtime.root / "policies" / "default.yaml").portal.link_expiry_days
    link = PortalLinks(PortalRecords(runtime.table_name), base_url, lambda: split_secrets(secret), FixedClock(runtime.now()))
    return link(customer_id, days) or ""
