"""Inbound email (SES receipt rule -> S3 inbound bucket -> this) -> the timeline: a reply, an out-of-office, a DSN."""

from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source

from arrears.adapters.tracing import traced
from arrears.usecases.inbound import receive_message
from arrears.wiring import inbound_ports

logger = Logger()
metrics = Metrics(namespace="Arrears")


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context) -> dict:
    ports, stored = inbound_ports()
    outcomes = []
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)
        # An exception (DynamoDB or S3 unavailable) fails the invocation: Lambda retries it (nothing stays half-done).
        outcome = receive_message(stored.get(f"s3://{record.s3.bucket.name}/{key}"), ports)
        logger.info("inbound message", extra={"key": key, **outcome})
        metrics.add_metric(name=f"Inbound_{outcome['outcome']}", unit=MetricUnit.Count, value=1)
        outcomes.append(outcome["outcome"])
    return {"outcomes": outcomes}
