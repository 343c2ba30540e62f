"""DynamoDB queries on one partition: moto answers a query on a table's key by sorting every item of the
table (all_items) and keeping those of the partition, so each query costs O(table) and a run O(table^2).
A query on the table's own hash key only ever looks at one partition: it is given just that partition, in
the order all_items would list it (by range key)."""

from __future__ import annotations

import threading
from typing import Any

from ..patch import Patch, Target

_TABLE = "moto.dynamodb.models.table"
_QUERY_PARAMS = ("self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key",
                 "scan_index_forward", "projection_expressions", "index_name", "consistent_read",
                 "filter_expression", "hash_key_conditions", "range_key_conditions", "filter_kwargs")


class PartitionQuery(Patch):
    NAME = "ddb_partition_query"
    SPEEDUP = True
    TARGETS = (
        Target(_TABLE, "Table.all_items", ("self",)),
        # index_name is read by position (args[6] after hash_key): the parameter order is the contract.
        Target(_TABLE, "Table.query", _QUERY_PARAMS),
    )

    def install(self) -> None:
        from moto.dynamodb.models.table import Table

        tls = threading.local()  # the partition the query running in this thread reads
        orig_all_items = Table.all_items
        orig_query = Table.query

        def all_items(table: Any) -> Any:
            restricted = getattr(tls, "query_partition", None)
            if restricted is not None and restricted[0] is table:
                return restricted[1]
            return orig_all_items(table)

        def query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
            if index_name or hash_key is None or not table.range_key_attr:
                return orig_query(table, hash_key, *args, **kwargs)
            partition = table.items.get(hash_key)
            items = sorted(list(partition.values()), key=lambda item: item.range_key) if partition else []
            tls.query_partition = (table, items)
            try:
                return orig_query(table, hash_key, *args, **kwargs)
            finally:
                tls.query_partition = None

        self.set(Table, "all_items", all_items)
        self.set(Table, "query", query)
