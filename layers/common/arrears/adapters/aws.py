"""boto3 clients, made lazily and cached per process (adapters only)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=15)


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@lru_cache(maxsize=None)
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset_clients() -> None:
    client.cache_clear()
    table.cache_clear()
