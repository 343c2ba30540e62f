"""Handlers against moto: the local runtime provisions template.yaml, the tests call handlers directly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from arrears_local.runtime import LocalRuntime

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def stack():
    with LocalRuntime(start=START) as runtime:
        yield runtime


def count_items(runtime: LocalRuntime) -> int:
    return runtime.client("dynamodb").scan(TableName=runtime.table_name, Select="COUNT")["Count"]
