"""The finance API's OpenAPI document, as the deployed function serves it at /openapi.json."""

from __future__ import annotations

import importlib.util
import json
import sys

from arrears_local.runtime import project_root

FINANCE_DOCUMENT = project_root() / "openapi" / "finance.json"


def finance_openapi() -> str:
    """Built from functions/api/app.py's routes (importing it reads no environment), pretty-printed."""
    path = project_root() / "functions" / "api" / "app.py"
    name = "arrears_function_api_openapi"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        document = json.loads(module.openapi_json())
    finally:
        sys.modules.pop(name, None)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
