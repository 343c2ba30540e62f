"""A dry run over the open book, started by the finance API (asynchronous invoke): result and status to S3."""

from aws_lambda_powertools import Logger

from arrears.adapters.tracing import traced
from arrears.usecases.finance import dry_run_jobs
from arrears.usecases.finance.api import FinanceApi

logger = Logger()


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event.get("job_id"))
    job = dry_run_jobs.run(FinanceApi.from_settings(), event)
    logger.info("dry run finished", extra={"status": job.status, "invoices": job.invoices_simulated, "error": job.error})
    return job.model_dump(mode="json")
