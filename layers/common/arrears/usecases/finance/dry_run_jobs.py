"""The dry run over the open book as an asynchronous job (issue #19): started, polled, its result in S3.

A dry run of one invoice answers at once (`FinanceApi.dry_run`). Over the open book it can run longer than
API Gateway's 29 seconds, so `POST /policies/{id}/dry-run` without an invoice checks the request as the
synchronous one does (an unknown version or a broken draft is refused at once, 4xx), writes the job's status
(`running`) to the letters bucket under `dry-runs/<job id>/status.json`, hands the job to the dry-run function
(an asynchronous invoke: up to 15 minutes) and answers 202 with the job. The function runs the same
`FinanceApi.dry_run`, writes the whole result to `dry-runs/<job id>/result.json` and the status `done` (or
`failed` with the refusal's code). `GET /dry-runs/{job id}` reads the status: once done, with the figures and a
presigned link (15 minutes) to the result. A job still `running` after the function's time limit died with it
and is answered `failed` (`timed_out`). The book is one shard: sharding it over Step Functions' distributed
map (arrears.usecases.simulation_shards, as `arrears simulate --workers`) is not built.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from arrears.domain.holds import ActionRefused
from arrears.usecases.finance import schemas as s

PREFIX = "dry-runs"
# The dry-run function's Timeout in template.yaml, and a minute for the status write.
TIME_LIMIT = timedelta(minutes=16)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def status_key(job_id: str) -> str:
    return f"{PREFIX}/{job_id}/status.json"


def result_key(job_id: str) -> str:
    return f"{PREFIX}/{job_id}/result.json"


def start(finance: Any, policy_id: str, request: s.DryRunRequest, actor: str) -> s.DryRunJob:
    """Check the request (what the synchronous dry run refuses is refused here), record the job, hand it over."""
    policy, version = finance.dry_run_policy(policy_id, request)
    job = s.DryRunJob(job_id=uuid.uuid4().hex, status="running", policy_id=policy_id, version=version,
                      started_at=finance.clock.now(), actor=actor)
    _write_status(finance, job)
    finance.dry_run_function.start({"job_id": job.job_id, "policy_id": policy_id,
                                    "request": request.model_dump(mode="json", exclude_none=True)})
    return job


def run(finance: Any, job: dict[str, Any]) -> s.DryRunJob:
    """The dry-run function's work: the dry run, its result and the job's final status."""
    current = status(finance, str(job.get("job_id", "")))
    try:
        result = finance.dry_run(current.policy_id, s.DryRunRequest.model_validate(job.get("request") or {}))
    except ActionRefused as refused:  # e.g. the version was unpublished meanwhile: said in the status
        done = current.model_copy(update={"status": "failed", "error": refused.code, "finished_at": finance.clock.now()})
    else:
        finance.artefacts.put(result_key(current.job_id), result.model_dump_json().encode(), "application/json", "dry_run")
        done = current.model_copy(update={
            "status": "done", "finished_at": finance.clock.now(), "invoices_simulated": result.invoices_simulated,
            "contacts_by_stage": result.contacts_by_stage, "left_out": len(result.left_out)})
    _write_status(finance, done)
    return done


def status(finance: Any, job_id: str) -> s.DryRunJob:
    """The job as last written; once done, with a presigned link to its result."""
    if not _JOB_ID.match(job_id):
        raise ActionRefused("unknown_job", "no such dry-run job")
    uri = f"s3://{finance.artefacts.bucket}/{status_key(job_id)}"
    found = finance.artefacts.find(uri)
    if found is None:
        raise ActionRefused("unknown_job", f"no dry-run job {job_id}")
    job = s.DryRunJob.model_validate_json(found)
    if job.status == "running" and finance.clock.now() - job.started_at > TIME_LIMIT:
        return job.model_copy(update={"status": "failed", "error": "timed_out"})
    if job.status == "done":
        return job.model_copy(update={"result_url": finance.artefacts.download_url(
            f"s3://{finance.artefacts.bucket}/{result_key(job_id)}")})
    return job


def _write_status(finance: Any, job: s.DryRunJob) -> None:
    body = job.model_dump_json(exclude={"result_url"}).encode()
    finance.artefacts.put(status_key(job.job_id), body, "application/json", "dry_run_status")

