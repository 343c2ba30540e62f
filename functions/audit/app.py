"""DynamoDB stream (contact-log inserts) -> audit bucket: JSON Lines by date, manifest parts, artefact copies."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName

from arrears.adapters.tracing import traced
from arrears.usecases.audit.archive import S3AuditArchive, StreamedEntry, archive_batch
from arrears.adapters.settings import get_settings

logger = Logger()
metrics = Metrics(namespace="Arrears")


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context) -> dict:
    entries = [
        StreamedEntry(record.dynamodb.sequence_number, record.dynamodb.new_image["entry"])
        for record in event.records
        # The event source mapping filters too; this keeps the function right without it.
        if record.event_name is DynamoDBRecordEventName.INSERT
        and record.dynamodb and record.dynamodb.new_image and "entry" in record.dynamodb.new_image
    ]
    archive = S3AuditArchive(get_settings().audit_bucket)
    result = archive_batch(entries, archive.put, archive.copy_artefact)
    failed = result.failed
    metrics.add_metric(name="AuditEntriesArchived", unit=MetricUnit.Count, value=len(entries) - len(failed))
    if result.artefact_mismatches:
        # Archived as found (that is the evidence); the auditor's verify will name them too.
        logger.error("artefacts no longer match their contact-log entries", extra={"mismatches": result.artefact_mismatches})
        metrics.add_metric(name="AuditArtefactMismatches", unit=MetricUnit.Count, value=len(result.artefact_mismatches))
    if failed:
        logger.warning("audit batch partly failed; Lambda retries from the first failure", extra={"failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": sequence_number} for sequence_number in failed]}
