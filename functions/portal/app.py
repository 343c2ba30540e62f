"""The debtor's own page (public, throttled; no IAM): a signed link opens the customer's statement, documents,
how to pay, and the dispute, promise, plan and contact forms. Server-rendered HTML, no JavaScript.

The handler only builds the service once per container and hands API Gateway's event to the portal's web layer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from arrears.usecases.portal import web
from arrears.usecases.portal.service import PortalService

logger = Logger()
_service: PortalService | None = None


def service() -> PortalService:
    global _service
    if _service is None:
        _service = PortalService.from_settings()
    return _service


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invoice_id = (event.get("pathParameters") or {}).get("invoice_id")
    if invoice_id:
        logger.append_keys(invoice_id=invoice_id)
    return web.handle(event, service())
