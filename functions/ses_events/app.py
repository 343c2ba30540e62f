"""SES delivery, bounce and complaint events (configuration set -> SNS) -> the contact log of the email's invoice."""

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source

from arrears.adapters.tracing import traced
from arrears.adapters.message_index import DynamoMessageIndex
from arrears.domain.ses_events import parse_ses_notification
from arrears.domain.clock import SystemClock
from arrears.domain.deliverability import apply_ses_event
from arrears.adapters.settings import get_settings
from arrears.adapters.dynamo import DynamoStore

logger = Logger()
metrics = Metrics(namespace="Arrears")


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context) -> dict:
    table = get_settings().table_name
    store, index, clock = DynamoStore(table), DynamoMessageIndex(table), SystemClock()
    outcomes = []
    for record in event.records:
        try:
            notification = parse_ses_notification(json.loads(record.sns.message))
        except (ValueError, TypeError, AttributeError):
            notification = None
        if notification is None:
            logger.warning("not an SES delivery, bounce or complaint event; ignored", extra={"sns_message_id": record.sns.message_id})
            outcomes.append("ignored")
            continue
        # An exception (e.g. the email's own entry is not logged yet) fails the invocation: Lambda retries it.
        outcome = apply_ses_event(notification, index, store, store, clock)
        logger.info("SES event", extra={"message_id": notification.message_id, "event": notification.event_type, "outcome": outcome})
        metrics.add_metric(name=f"SesEvent_{outcome}", unit=MetricUnit.Count, value=1)
        outcomes.append(outcome)
    return {"outcomes": outcomes}
