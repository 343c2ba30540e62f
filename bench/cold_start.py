"""Cold start: fresh interpreters importing each function's handler module with its environment set.

For every AWS::Serverless::Function in template.yaml (so a new function is measured as soon as it
is in the template), the median wall time of `python -c "import app"` run in the function's code
directory with the environment the local runtime resolves for it (template Globals + the
function's own variables + the local runtime's AWS settings), divided by the median of
`python -c "import boto3"` measured in the same run, the runs interleaved so that machine load
hits both alike. Where a target is missed, `-X importtime` names the imports that cost most.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, cli, figure, median, setup_paths

TARGETS = {"WebhooksFunction": 1.5, "WorkflowFunction": 1.5, "ApiFunction": 2.0}
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
    """The top-level imports with the largest cumulative import time (python -X importtime)."""
    done = _spawn(code, cwd, env, ("-X", "importtime"))
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split(":", 1)[1].split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        name = parts[2][1:]  # after the column's one space, two more per level of nesting
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 1:  # what the handler module imports itself
            rows.append((cumulative, name.strip()))
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:limit]]


def run(args: Any) -> list[dict[str, Any]]:
    functions = function_environments()
    base = _base_env()
    pythonpath = os.pathsep.join(str(p) for p in (ROOT / "layers" / "common", ROOT / "local"))
    envs = {lid: {**base, **env, "PYTHONPATH": f"{code}{os.pathsep}{pythonpath}"} for lid, (code, _, env) in functions.items()}
    baseline_env = {**base, "PYTHONPATH": pythonpath}
    times: dict[str, list[float]] = {"boto3": [], **{lid: [] for lid in functions}}
    for lid, (code, module, _) in functions.items():  # warm the file cache and bytecode once
        _timed(f"import {module}", code, envs[lid])
    _timed("import boto3", ROOT, baseline_env)
    for _ in range(args.runs):
        times["boto3"].append(_timed("import boto3", ROOT, baseline_env))
        for lid, (code, module, _) in functions.items():
            times[lid].append(_timed(f"import {module}", code, envs[lid]))
    boto3_median = median(times["boto3"])
    figures = [figure("cold start: `import boto3` (the unit)", round(boto3_median * 1000, 1), "ms", note=f"median of {args.runs} fresh interpreters")]
    for lid, (code, module, _) in functions.items():
        ratio = median(times[lid]) / boto3_median
        target = TARGETS.get(lid)
        met = None if target is None else ratio <= target
        note = f"median {median(times[lid]) * 1000:.0f} ms"
        if met is False:
            note += (f"; {ratio / target:.2f}x the target ({(ratio - target) * boto3_median * 1000:.0f} ms over); heaviest imports: "
                     + ", ".join(heaviest_imports(f"import {module}", code, envs[lid])))
        figures.append(figure(f"cold start: {lid.removesuffix('Function').lower()} / import boto3", round(ratio, 2), "x",
                              f"<= {target}" if target else None, met, note))
    if "ApiFunction" not in functions:
        figures.append(figure("cold start: api / import boto3", "not built yet", "", "<= 2.0", None,
                              "no ApiFunction in template.yaml yet (issue 5); measured here once it is"))
    return figures


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("--runs", type=int, default=RUNS))
