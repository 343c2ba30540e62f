"""Every engine patch, in the order LocalEngine installs them (and removes them, in reverse)."""

from __future__ import annotations

from .patch import Patch
from .patches.chaos_crashes import ChaosCrashes
from .patches.chaos_faults import ChaosFaults
from .patches.chaos_jitter import ChaosJitter
from .patches.condition_builder import ConditionBuilderLock
from .patches.dynamodb_stream import STREAM_KEY_FILTER, DynamoDbStream
from .patches.execution_timeout import ExecutionTimeout
from .patches.executions import ExecutionLifecycle
from .patches.lambda_dispatch import LambdaDispatch
from .patches.map_workers import MapWorkers
from .patches.parallel_branches import ParallelBranches
from .patches.program_state import ProgramState
from .patches.retry_intervals import RetryIntervals
from .patches.task_timeouts import TaskTimeouts
from .patches.task_tokens import TaskTokens
from .patches.wait_states import WaitStates
from .speedups.asl_cache import AslParseCache
from .speedups.ddb_conditions import ConditionExpressions
from .speedups.ddb_item_copies import ItemCopies
from .speedups.ddb_item_size import ItemSize
from .speedups.ddb_query import PartitionQuery
from .speedups.ddb_update_expressions import UpdateExpressions
from .speedups.ddb_wire_values import WireAttributeValues
from .speedups.jsonpath import JsonPathCache
from .speedups.method_names import ResponseMethodNames
from .speedups.sigv4 import PlaceholderSignatures
from .speedups.task_clients import TaskClients
from .speedups.task_lambda import DirectTaskLambda
from .speedups.timestamps import TimestampParses
from .speedups.url_tables import UrlTables
from .speedups.user_agent import UserAgentTexts

PATCHES: tuple[type[Patch], ...] = (
    ExecutionLifecycle, AslParseCache, WaitStates, RetryIntervals, TaskTokens, ProgramState, TaskTimeouts,
    ExecutionTimeout, ParallelBranches, MapWorkers, TaskClients, JsonPathCache, LambdaDispatch,
    ConditionBuilderLock, DynamoDbStream, PartitionQuery, WireAttributeValues, UrlTables, PlaceholderSignatures,
    UserAgentTexts, TimestampParses, ResponseMethodNames, ItemSize, ItemCopies, ConditionExpressions,
    UpdateExpressions, DirectTaskLambda, ChaosFaults, ChaosCrashes, ChaosJitter,
)

#: The speed shortcuts by name: each patch with SPEEDUP, and the stream's key filter (an option of the
#: dynamodb_stream patch, since it decides inside the stream's own lock).
SPEEDUPS: tuple[str, ...] = tuple(p.NAME for p in PATCHES if p.SPEEDUP) + (STREAM_KEY_FILTER,)
