"""Cold start: fresh interpreters importing each function's handler module with its environment set.

For every AWS::Serverless::Function in template.yaml (so a new function is measured as soon as it
is in the template), the median wall time of `python -c "import app; import boto3"` run in the
function's code directory with the environment the local runtime resolves for it (template Globals +
the function's own variables + the local runtime's AWS settings), divided by the median of
`python -c "import boto3"` measured in the same run, the runs interleaved so that machine load
hits both alike. boto3 is part of every handler's figure: each makes AWS calls in its first
invocation, so a handler that imports it lazily still pays it in its cold start. Every function's
figure carries its import breakdown (`-X importtime`: what the handler module imports, by
cumulative time), the first thing to read when a figure moves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, cli, figure, median, setup_paths

# Issue #19: the floor for boto3 + pydantic + jinja2 is about 1.2x, with Powertools' event handler about 1.55x.
# The functions added since take the target of their kind: the portal answers HTTP through API Gateway as the
# api does; inbound (an S3 notification) and the dry-run job (an async invoke) are event handlers like ses_events.
TARGETS = {"WebhooksFunction": 1.7, "ApiFunction": 1.7, "PortalFunction": 1.7, "WorkflowFunction": 1.3, "AuditFunction": 1.3,
           "SesEventsFunction": 1.3, "InboundFunction": 1.3, "DryRunFunction": 1.3}
RUNS = 15


def function_environments() -> dict[str, tuple[Path, str, dict[str, str]]]:
    """logical id -> (code directory, handler module, environment), resolved as the local runtime does."""
    setup_paths()
    from datetime import datetime, timezone

    from arrears_local.cfn import load_template
    from arrears_local.runtime import _LOCAL_ENVIRONMENT, LocalRuntime

    runtime = LocalRuntime(start=datetime(2026, 9, 1, tzinfo=timezone.utc), root=ROOT)
    runtime.template = load_template(ROOT / "template.yaml")
    resources = runtime.template["Resources"]
    runtime._name_everything(resources)
    runtime._evaluate_conditions()
    functions = [(lid, r) for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    runtime._shared_environment(functions)
    out = {}
    for logical_id, resource in functions:
        properties = resource["Properties"]
        module = properties["Handler"].rpartition(".")[0]
        env = {**_LOCAL_ENVIRONMENT, "POWERTOOLS_LOG_LEVEL": "ERROR", **runtime.function_env[logical_id]}
        out[logical_id] = (ROOT / properties["CodeUri"], module, env)
    return out


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "SYSTEMROOT", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def _spawn(code: str, cwd: Path, env: dict[str, str], extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *extra, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def _timed(code: str, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = _spawn(code, cwd, env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`{code}` failed in {cwd}:\n{done.stderr[-2000:]}")
    return elapsed


def heaviest_imports(code: str, cwd: Path, env: dict[str, str], limit: int = 5) -> list[str]:
    """What the handler module imports itself (python -X importtime), largest cumulative time first; then boto3
    when the handler leaves it to its first AWS call (`code` imports it after the module)."""
    done = _spawn(code, cwd, env, ("-X", "importtime"))
    module = code.split(";")[0].split()[-1]
    rows, children = [], []
    for line in done.stderr.splitlines():  # a module's line comes after the lines of what it imported
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split(":", 1)[1].split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        name = parts[2][1:]  # after the column's one space, two more per level of nesting
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 1:
            children.append((cumulative, name.strip()))
        elif depth == 0:
            if name.strip() == module:
                rows += children
            elif name.strip() == "boto3":
                rows.append((cumulative, "boto3 (at the first AWS call)"))
            children = []
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:limit]]


def _cold_start(module: str) -> str:
    return f"import {module}; import boto3"


def run(args: Any) -> list[dict[str, Any]]:
    functions = function_environments()
    base = _base_env()
    pythonpath = os.pathsep.join(str(p) for p in (ROOT / "layers" / "common", ROOT / "local"))
    envs = {lid: {**base, **env, "PYTHONPATH": f"{code}{os.pathsep}{pythonpath}"} for lid, (code, _, env) in functions.items()}
    baseline_env = {**base, "PYTHONPATH": pythonpath}
    times: dict[str, list[float]] = {"boto3": [], **{lid: [] for lid in functions}}
    for lid, (code, module, _) in functions.items():  # warm the file cache and bytecode once
        _timed(_cold_start(module), code, envs[lid])
    _timed("import boto3", ROOT, baseline_env)
    for _ in range(args.runs):
        times["boto3"].append(_timed("import boto3", ROOT, baseline_env))
        for lid, (code, module, _) in functions.items():
            times[lid].append(_timed(_cold_start(module), code, envs[lid]))
    boto3_median = median(times["boto3"])
    figures = [figure("cold start: `import boto3` (the unit)", round(boto3_median * 1000, 1), "ms", note=f"median of {args.runs} fresh interpreters")]
    for lid, (code, module, _) in functions.items():
        ratio = median(times[lid]) / boto3_median
        target = TARGETS.get(lid)
        met = None if target is None else ratio <= target
        note = f"median {median(times[lid]) * 1000:.0f} ms"
        if met is False:
            note += f"; {ratio / target:.2f}x the target ({(ratio - target) * boto3_median * 1000:.0f} ms over)"
        note += "; imports: " + ", ".join(heaviest_imports(_cold_start(module), code, envs[lid], limit=8))
        figures.append(figure(f"cold start: {lid.removesuffix('Function').lower()} / import boto3", round(ratio, 2), "x",
                              f"<= {target}" if target else None, met, note))
    if "ApiFunction" not in functions:
        figures.append(figure("cold start: api / import boto3", "not built yet", "", "<= 2.0", None,
                              "no ApiFunction in template.yaml yet (issue 5); measured here once it is"))
    return figures


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("--runs", type=int, default=RUNS))
