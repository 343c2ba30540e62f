"""Handlers against moto: the local runtime provisions template.yaml, the tests call handlers directly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.memory import MemoryStore
from arrears_local.runtime import LocalRuntime

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def stack():
    with LocalRuntime(start=START) as runtime:
        yield runtime


@pytest.fixture(params=["dynamodb", "memory"])
def store(request):
    """One store contract, both adapters: DynamoDB (conditional writes, on moto) and memory (the simulator's)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    yield DynamoStore(request.getfixturevalue("stack").table_name)


def count_items(runtime: LocalRuntime) -> int:
    return runtime.client("dynamodb").scan(TableName=runtime.table_name, Select="COUNT")["Count"]
