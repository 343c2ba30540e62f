"""boto3 clients, made lazily and cached per process (adapters only)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=15)
# S3 signs with SigV4 at the region's own endpoint: botocore would otherwise presign links with SigV2
# (us-east-1, eu-west-1 and other older regions, at the global endpoint), which buckets created
# since June 2020 refuse, so a letter's link from the finance API would answer 403.
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4",
                                  s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}))
_SERVICE_CONFIG = {"s3": _S3_CONFIG}


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    return boto3.client(service, config=_SERVICE_CONFIG.get(service, _CONFIG))


@lru_cache(maxsize=None)
def single_attempt_client(service: str, read_timeout: int) -> Any:
    """A client that makes each call once and waits at most `read_timeout` seconds for the answer:
    for a synchronous invoke whose retry would run the callee twice, and whose caller has a budget."""
    config = _CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2,
                                  read_timeout=read_timeout))
    return boto3.client(service, config=config)


@lru_cache(maxsize=None)
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset_clients() -> None:
    client.cache_clear()
    single_attempt_client.cache_clear()
    table.cache_clear()
